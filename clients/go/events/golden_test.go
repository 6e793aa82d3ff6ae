package events

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoSchemas is gigstream's schemas/ dir, seen from this package's dir (clients/go/events).
const repoSchemas = "../../../schemas"

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readHex(t *testing.T, path string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimSpace(string(readFile(t, path))))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// goldenEvent unmarshals a golden sample into the envelope type of its topic.
func goldenEvent(t *testing.T, topic Topic, js []byte) Event {
	t.Helper()
	var err error
	var e Event
	switch topic {
	case Orders:
		var v OrderEvent
		err, e = json.Unmarshal(js, &v), v
	case Usage:
		var v UsageEvent
		err, e = json.Unmarshal(js, &v), v
	case Telemetry:
		var v TelemetryEvent
		err, e = json.Unmarshal(js, &v), v
	default:
		t.Fatalf("unknown topic %q", topic)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestGolden encodes every v2 golden sample of schemas/golden and compares with its bytes:
// the Avro after the 5-byte Confluent header of <name>.hex (and the header itself, with the
// catalog id), the single-object form <name>.so.hex, and the JSON text itself.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoSchemas, "golden", "*.v2.*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no golden samples in %s (not inside the gigstream repository)", repoSchemas)
	}
	seen := map[Topic]map[string]bool{}
	for _, file := range files {
		base := strings.TrimSuffix(file, ".json")
		parts := strings.Split(filepath.Base(base), ".") // topic, v2, Record
		topic, record := Topic(parts[0]), parts[2]
		t.Run(filepath.Base(base), func(t *testing.T) {
			js := bytes.TrimSpace(readFile(t, file))
			e := goldenEvent(t, topic, js)
			if e.Type() != record || e.Topic() != topic {
				t.Fatalf("decoded %s/%s, want %s/%s", e.Topic(), e.Type(), topic, record)
			}
			want := readHex(t, base+".hex")
			if want[0] != 0 {
				t.Fatalf("%s.hex: magic byte %#x, want the Confluent framing (0)", base, want[0])
			}
			avro, err := EncodeAvro(e)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(avro, want[5:]) {
				t.Fatalf("Avro differs from %s.hex after the header:\n got %x\nwant %x", base, avro, want[5:])
			}
			framed, err := AppendConfluent(nil, topic.CatalogID(), e)
			if err != nil || !bytes.Equal(framed, want) {
				t.Fatalf("Confluent framing with catalog id %d:\n got %x\nwant %x (%v)", topic.CatalogID(), framed, want, err)
			}
			so, err := AppendSingleObject(nil, e)
			if wantSO := readHex(t, base+".so.hex"); err != nil || !bytes.Equal(so, wantSO) {
				t.Fatalf("single-object encoding:\n got %x\nwant %x (%v)", so, wantSO, err)
			}
			back, err := json.Marshal(e)
			if err != nil || !bytes.Equal(back, js) {
				t.Fatalf("JSON round trip:\n got %s\nwant %s (%v)", back, js, err)
			}
			if seen[topic] == nil {
				seen[topic] = map[string]bool{}
			}
			seen[topic][record] = true
		})
	}
	// Every record of every v2 schema has a golden sample.
	for topic, n := range map[Topic]int{Orders: 9, Usage: 2, Telemetry: 4} {
		if len(seen[topic]) != n {
			t.Errorf("%s: golden samples of %d records, want all %d", topic, len(seen[topic]), n)
		}
	}
}

// TestCatalog checks the catalog ids this package states against schemas/catalog.json.
func TestCatalog(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoSchemas, "catalog.json"))
	if err != nil {
		t.Skipf("no catalog: %v", err)
	}
	var cat struct {
		Schemas []struct {
			ID      uint32 `json:"id"`
			Topic   Topic  `json:"topic"`
			Version int    `json:"version"`
			File    string `json:"file"`
		} `json:"schemas"`
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, s := range cat.Schemas {
		if s.Version == SchemaVersion {
			found++
			if s.Topic.CatalogID() != s.ID {
				t.Errorf("%s: CatalogID %d, catalog.json says %d", s.Topic, s.Topic.CatalogID(), s.ID)
			}
			if s.File != string(s.Topic)+".v2.avsc" {
				t.Errorf("%s: catalog.json names %s", s.Topic, s.File)
			}
		}
	}
	if found != 3 {
		t.Errorf("catalog.json has %d v2 schemas, want 3", found)
	}
}

// TestEmbeddedSchemas checks that the embedded copies equal schemas/*.v2.avsc byte for byte:
// a registry (Apicurio) gives other text another id.
func TestEmbeddedSchemas(t *testing.T) {
	for _, topic := range Topics {
		repo, err := os.ReadFile(filepath.Join(repoSchemas, string(topic)+".v2.avsc"))
		if err != nil {
			t.Skipf("not inside the gigstream repository: %v", err)
		}
		if string(repo) != topic.Schema() {
			t.Errorf("events/schemas/%s.v2.avsc differs from schemas/%s.v2.avsc: copy it again", topic, topic)
		}
	}
}
