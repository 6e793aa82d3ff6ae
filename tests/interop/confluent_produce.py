#!/usr/bin/env python3
"""A producer that no one at gigstream wrote: Confluent's own Python client (confluent-kafka's
Producer, SchemaRegistryClient and AvroSerializer, on fastavro) sends events given in
gigstream's JSON form to Kafka, with the ids a Confluent-compatible schema registry assigns.

    pip install "confluent-kafka[avro,schemaregistry]" fastavro
    confluent_produce.py --registry URL --bootstrap HOST:PORT [--topic-prefix P] FILE.jsonl...

Each FILE is named after its topic (orders.jsonl, usage.jsonl, telemetry.jsonl: what
`gigstream gen --output jsonl` writes). Per topic, three writer schemas take turns, each
registered under the topic's subject (TopicNameStrategy, "<prefix><topic>-value") in this
order, as producers of three generations would:

- v1: schemas/<topic>.v1.avsc, older than gigstream's newest (no trace_id); taken only for
  events it can carry whole (no trace_id), with schema_version 1;
- v2: schemas/<topic>.v2.avsc, the catalog's newest;
- v3: v2 with a field added at the end ("producer_host", ["null", "string"], default null),
  newer than anything gigstream knows.

Records are keyed by the entity (deal_id, subscription_id, service_id) and partitioned with
librdkafka's murmur2_random, Java's rule, as gigstream's producers do. The script creates no
topic. It prints one JSON line: per topic the records sent, and per writer the id the registry
gave and how many records carry it.
"""
import argparse
import datetime
import decimal
import json
import os
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
KEYS = {"orders": "deal_id", "usage": "subscription_id", "telemetry": "service_id"}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def full_name(schema, namespace):
    name = schema["name"]
    if "." in name:
        return name
    ns = schema.get("namespace", namespace)
    return f"{ns}.{name}" if ns else name


class Converter:
    """gigstream's JSON form of an event to the Python value fastavro writes for a schema:
    decimals (text) to Decimal, timestamps (ms or ISO text) to datetime, dates to date, a
    union of records ({"Name": {...}}) to fastavro's (full name, record) tuple."""

    def __init__(self, schema):
        self.named = {}
        self._collect(schema, None)
        self.schema = schema

    def _collect(self, s, ns):
        if isinstance(s, list):
            for b in s:
                self._collect(b, ns)
        elif isinstance(s, dict):
            t = s.get("type")
            if t in ("record", "enum", "fixed"):
                fn = full_name(s, ns)
                self.named[fn] = s
                self.named.setdefault(s["name"], s)
                ns = fn.rsplit(".", 1)[0] if "." in fn else ns
                for f in s.get("fields", []):
                    self._collect(f["type"], ns)
            elif t == "array":
                self._collect(s["items"], ns)
            elif t == "map":
                self._collect(s["values"], ns)
            elif isinstance(t, (dict, list)):
                self._collect(t, ns)

    def convert(self, s, v, ns=None):
        if isinstance(s, str):
            if s in self.named:
                return self.convert(self.named[s], v, ns)
            return v
        if isinstance(s, list):
            return self._union(s, v, ns)
        t = s.get("type")
        logical = s.get("logicalType")
        if logical == "decimal":
            scale = s.get("scale", 0)
            return decimal.Decimal(str(v)).quantize(decimal.Decimal(1).scaleb(-scale))
        if logical == "timestamp-millis":
            if isinstance(v, (int, float)):
                return EPOCH + datetime.timedelta(milliseconds=int(v))
            return datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
        if logical == "date":
            if isinstance(v, int):
                return datetime.date(1970, 1, 1) + datetime.timedelta(days=v)
            return datetime.date.fromisoformat(v)
        if t == "record":
            fn = full_name(s, ns)
            inner_ns = fn.rsplit(".", 1)[0] if "." in fn else ns
            out = {}
            for f in s["fields"]:
                if f["name"] in v:
                    out[f["name"]] = self.convert(f["type"], v[f["name"]], inner_ns)
                elif "default" in f:
                    out[f["name"]] = f["default"]
                else:
                    raise ValueError(f"field {f['name']} of {fn} is missing in {v}")
            return out
        if t == "array":
            return [self.convert(s["items"], x, ns) for x in v]
        if t == "map":
            return {k: self.convert(s["values"], x, ns) for k, x in v.items()}
        if isinstance(t, (dict, list)):
            return self.convert(t, v, ns)
        return v

    def _union(self, branches, v, ns):
        if v is None:
            return None
        non_null = [b for b in branches if b != "null"]
        if len(non_null) == 1:
            return self.convert(non_null[0], v, ns)
        if isinstance(v, dict) and len(v) == 1:
            (name, inner), = v.items()
            for b in non_null:
                rec = self.named.get(b) if isinstance(b, str) else b
                if isinstance(rec, dict) and rec.get("name") in (name, name.rsplit(".", 1)[-1]):
                    return (full_name(rec, ns), self.convert(rec, inner, ns))
        raise ValueError(f"no branch of {branches} for {v}")


def fits(schema, event):
    """Whether every non-null top-level field of the event is a field of the schema."""
    names = {f["name"] for f in schema["fields"]}
    return all(k in names for k, x in event.items() if x is not None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic-prefix", default="")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    client = SchemaRegistryClient({"url": args.registry})
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "linger.ms": 20,
    })
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(str(err))

    report = {}
    for path in args.files:
        topic = os.path.basename(path).split(".")[0]
        if topic not in KEYS:
            sys.exit(f"{path}: not named after a topic ({', '.join(KEYS)})")
        name = args.topic_prefix + topic
        v1_text = open(os.path.join(ROOT, "schemas", f"{topic}.v1.avsc")).read()
        v2_text = open(os.path.join(ROOT, "schemas", f"{topic}.v2.avsc")).read()
        v3 = json.loads(v2_text)
        v3["fields"].append({"name": "producer_host", "type": ["null", "string"],
                             "default": None, "doc": "Added by a newer producer."})
        v3_text = json.dumps(v3, indent=2)
        writers = []
        for label, text in (("v1", v1_text), ("v2", v2_text), ("v3", v3_text)):
            parsed = json.loads(text)
            # Registered in generation order, as the producers of each would have.
            sid = client.register_schema(f"{name}-value", Schema(text, "AVRO"))
            serializer = AvroSerializer(client, text, conf={"auto.register.schemas": True})
            writers.append({"label": label, "schema": parsed, "id": sid, "sent": 0,
                            "serialize": serializer, "convert": Converter(parsed)})
        ctx = SerializationContext(name, MessageField.VALUE)
        sent = 0
        with open(path) as f:
            for i, line in enumerate(f):
                line = line.strip()
                if not line:
                    continue
                event = json.loads(line)
                w = writers[i % 3]
                if w["label"] == "v1":
                    if fits(w["schema"], event):
                        event = dict(event, schema_version=1)
                    else:
                        w = writers[1]
                value = w["serialize"](w["convert"].convert(w["schema"], event), ctx)
                if value[0] != 0 or int.from_bytes(value[1:5], "big") != w["id"]:
                    sys.exit(f"{path}:{i + 1}: framed with {value[:5].hex()}, not id {w['id']}")
                while True:
                    try:
                        producer.produce(name, key=event[KEYS[topic]].encode(), value=value,
                                         on_delivery=delivered)
                        break
                    except BufferError:
                        producer.poll(0.1)
                producer.poll(0)
                w["sent"] += 1
                sent += 1
        left = producer.flush(60)
        if left or failures:
            sys.exit(f"{name}: {left} records undelivered, errors: {failures[:5]}")
        report[topic] = {"topic": name, "sent": sent,
                         "writers": {w["label"]: {"id": w["id"], "records": w["sent"]}
                                     for w in writers}}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
