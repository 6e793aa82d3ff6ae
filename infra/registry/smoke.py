#!/usr/bin/env python3
"""Smoke test of a schema registry started by start.sh, with Confluent's own Python client
(confluent-kafka's SchemaRegistryClient and AvroSerializer): the Confluent REST API that
gigstream's producers and consumers rely on.

    pip install "confluent-kafka[avro,schemaregistry]"
    smoke.py REGISTRY_URL BOOTSTRAP      # e.g. http://127.0.0.1:28081/apis/ccompat/v7 127.0.0.1:29092

Registers schemas/telemetry.v2.avsc under subject telemetry-value (idempotent: a second run
gets the same id), reads it back by id (GET /schemas/ids/{id}), checks compatibility
(POST /compatibility/subjects/{subject}/versions/latest), sets BACKWARD_TRANSITIVE on the
subject (PUT /config/{subject}), checks the error codes (40401, 40402, 40403, 409, 42201,
42203), whether ids are shared between subjects and whether the registry normalizes schemas,
then produces the golden telemetry v2 samples with AvroSerializer to a fresh topic of the broker
at BOOTSTRAP, consumes them back, and checks the Confluent header (magic 0, the registry's id)
and that the Avro after the header equals the golden bytes of schemas/golden/*.hex.
Scratch subjects and the topic carry a random prefix ("smoke-<hex>."), so runs do not collide.
Prints one JSON summary on stdout (what it saw, deviations included); exits non-zero on any
failed check.
"""
import json
import os
import sys
import time
import uuid

import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCHEMAS = os.path.join(ROOT, "schemas")
failures = []
report = {}


class _Resp:
    def __init__(self, status, body):
        self.status_code, self._body = status, body

    def json(self):
        return json.loads(self._body)


def http(method, url, body=None):
    """A bare HTTP call (stdlib only), to see status codes and bodies as they are."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json",
                                          "Accept": "application/vnd.schemaregistry.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return _Resp(r.status, r.read())
    except urllib.error.HTTPError as e:
        return _Resp(e.code, e.read())


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"smoke: FAILED: {what}", file=sys.stderr)
    return cond


def read(name):
    with open(os.path.join(SCHEMAS, name)) as f:
        return f.read()


def error_of(fn):
    """Runs fn; returns (http_status, error_code, message) of the SchemaRegistryError it raises."""
    try:
        fn()
    except SchemaRegistryError as e:
        return e.http_status_code, e.error_code, e.error_message
    return None


def expect_error(name, fn, status, code):
    got = error_of(fn)
    report.setdefault("errors", {})[name] = got
    check(got is not None and got[0] == status and got[1] == code,
          f"{name}: want HTTP {status} error_code {code}, got {got}")


def main(url, bootstrap):
    base = url.rstrip("/")
    sr = SchemaRegistryClient({"url": base})
    pfx = f"smoke-{uuid.uuid4().hex[:8]}."
    report["base_url"] = base
    report["prefix"] = pfx
    v1_text = read("telemetry.v1.avsc")
    v2_text = read("telemetry.v2.avsc")
    v1 = Schema(v1_text, "AVRO")
    v2 = Schema(v2_text, "AVRO")

    # 1. Register under telemetry-value (TopicNameStrategy of topic "telemetry"); twice: same id.
    t0 = time.monotonic()
    sid = sr.register_schema("telemetry-value", v2)
    report["register_ms"] = round((time.monotonic() - t0) * 1000, 1)
    check(isinstance(sid, int) and sid >= 0, f"register gave id {sid!r}")
    check(sr.register_schema("telemetry-value", v2) == sid, "registering the same schema again changed the id")
    report["telemetry-value"] = {"id": sid, "versions": http("GET", f"{base}/subjects/telemetry-value/versions").json()}

    # 2. GET /schemas/ids/{id}: the same schema back (as text, or only the same when parsed).
    raw = http("GET", f"{base}/schemas/ids/{sid}")
    check(raw.status_code == 200, f"GET /schemas/ids/{sid}: HTTP {raw.status_code}")
    got_text = raw.json()["schema"]
    report["schema_by_id"] = {
        "same_text": got_text == v2_text,
        "same_json": json.loads(got_text) == json.loads(v2_text),
        "keys": sorted(raw.json().keys()),
    }
    check(json.loads(got_text) == json.loads(v2_text), "GET /schemas/ids/{id} gave another schema (parsed JSON differs)")
    check(json.loads(sr.get_schema(sid).schema_str) == json.loads(v2_text), "SchemaRegistryClient.get_schema differs")
    latest = sr.get_latest_version("telemetry-value")
    check(latest.schema_id == sid and latest.subject == "telemetry-value", f"latest version: {latest}")
    # lookup (POST /subjects/{subject}) finds it
    check(sr.lookup_schema("telemetry-value", v2).schema_id == sid, "lookup_schema did not find the registered schema")

    # 3. Compatibility: v1 then v2 under a scratch subject (v2 only adds an optional field).
    s_compat = pfx + "telemetry-value"
    id_v1 = sr.register_schema(s_compat, v1)
    check(sr.test_compatibility(s_compat, v2) is True, "v2 is not BACKWARD compatible with v1?")
    incompatible = json.loads(v1_text)
    incompatible["fields"][2]["type"] = "int"  # service_id: string -> int
    bad = Schema(json.dumps(incompatible), "AVRO")
    check(sr.test_compatibility(s_compat, bad) is False, "an incompatible schema was judged compatible")
    report["compat_verbose_body"] = http(
        "POST", f"{base}/compatibility/subjects/{s_compat}/versions/latest?verbose=true",
        {"schema": bad.schema_str}).json()
    expect_error("register_incompatible", lambda: sr.register_schema(s_compat, bad), 409, 409)
    id_v2_scratch = sr.register_schema(s_compat, v2)
    report["ids"] = {"telemetry-value v2": sid, "scratch v1": id_v1, "scratch v2": id_v2_scratch}
    report["same_schema_two_subjects_same_id"] = id_v2_scratch == sid

    # 4. Config: PUT /config/{subject} BACKWARD_TRANSITIVE, read back.
    # The client returns the answer's body (a dict), whatever its docstring says.
    put = sr.set_compatibility("telemetry-value", "BACKWARD_TRANSITIVE")
    report["put_config_answer"] = put
    check(isinstance(put, dict) and put.get("compatibility") == "BACKWARD_TRANSITIVE",
          f"PUT /config/telemetry-value answered {put!r}")
    check(sr.get_compatibility("telemetry-value") == "BACKWARD_TRANSITIVE", "get_compatibility after set")
    report["config"] = {
        "global": http("GET", f"{base}/config").json(),
        "telemetry-value": http("GET", f"{base}/config/telemetry-value").json(),
    }
    unset = http("GET", f"{base}/config/{pfx}never-configured-value")
    report["config_of_unknown_subject"] = [unset.status_code, unset.json()]
    # Confluent answers 40408 for a subject without its own config (unless defaultToGlobal).
    own = http("GET", f"{base}/config/{s_compat}")
    report["config_of_subject_without_own_config"] = [own.status_code, own.json()]

    # 5. Error codes.
    expect_error("subject_not_found", lambda: sr.get_latest_version(pfx + "nope-value"), 404, 40401)
    expect_error("version_not_found", lambda: sr.get_version(s_compat, 99), 404, 40402)
    expect_error("schema_id_not_found", lambda: sr.get_schema(987654), 404, 40403)
    expect_error("invalid_schema", lambda: sr.register_schema(pfx + "bad-value", Schema('{"type":"recor', "AVRO")), 422, 42201)
    expect_error("invalid_compat_level", lambda: sr.set_compatibility(pfx + "x-value", "BOGUS"), 422, 42203)
    expect_error("lookup_unknown_schema", lambda: sr.lookup_schema("telemetry-value", bad), 404, 40403)

    # 6. Normalization: the same schema as other text (minified, keys reordered) under new subjects.
    minified = json.dumps(json.loads(v2_text), separators=(",", ":"))
    id_min = sr.register_schema(pfx + "minified-value", Schema(minified, "AVRO"))
    id_min_norm = sr.register_schema(pfx + "minified-norm-value", Schema(minified, "AVRO"), normalize_schemas=True)
    report["normalization"] = {
        "minified_text_same_id": id_min == sid,
        "minified_text_with_normalize_same_id": id_min_norm == sid,
        "ids": [id_min, id_min_norm],
    }

    # 7. Deleting a subject (Confluent: soft, then ?permanent=true).
    deleted = sr.delete_subject(pfx + "minified-value")
    deleted_perm = sr.delete_subject(pfx + "minified-value", permanent=True)
    report["delete_subject"] = [deleted, deleted_perm]

    # 8. AvroSerializer -> Kafka -> consumer: header and golden bytes.
    topic = pfx + "telemetry"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
    ser = AvroSerializer(sr, v2_text, conf={"auto.register.schemas": True})
    ctx = SerializationContext(topic, MessageField.VALUE)
    golden = {}
    for name in sorted(os.listdir(os.path.join(SCHEMAS, "golden"))):
        if name.startswith("telemetry.v2.") and name.endswith(".json"):
            kind = name.split(".")[2]
            with open(os.path.join(SCHEMAS, "golden", name)) as f:
                ev = json.load(f)
            ((branch, body),) = ev["payload"].items()
            datum = dict(ev, payload=("gigstream.telemetry." + branch, body))  # fastavro's (name, value)
            with open(os.path.join(SCHEMAS, "golden", name[:-5] + ".hex")) as f:
                golden[kind] = (ev, datum, bytes.fromhex(f.read().strip()))
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for kind, (ev, datum, _) in golden.items():
        p.produce(topic, key=ev["service_id"].encode(), value=ser(datum, ctx))
    check(p.flush(30) == 0, "producer did not deliver everything")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": pfx + "g", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < len(golden) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            seen.append(m.value())
    c.close()
    check(len(seen) == len(golden), f"consumed {len(seen)} of {len(golden)} records")
    subject_id = sr.get_latest_version(topic + "-value").schema_id
    des = AvroDeserializer(sr)
    same_payload = {}
    for v in seen:
        check(v[0] == 0, f"magic byte {v[0]}")
        wid = int.from_bytes(v[1:5], "big")
        check(wid == subject_id, f"header id {wid}, registry id of {topic}-value {subject_id}")
        back = des(v, ctx)
        kind = next(k for k, (ev, _, _) in golden.items() if ev["event_id"] == back["event_id"])
        same_payload[kind] = v[5:] == golden[kind][2][5:]
        check(same_payload[kind], f"{kind}: the Avro after the header differs from schemas/golden")
        check(back["service_id"] == golden[kind][0]["service_id"], f"{kind}: decoded record differs")
    report["serializer"] = {"topic": topic, "subject": topic + "-value", "id": subject_id,
                            "id_equals_telemetry-value": subject_id == sid,
                            "payload_equals_golden": same_payload,
                            "golden_header_id (catalog.json)": int.from_bytes(next(iter(golden.values()))[2][1:5], "big")}
    admin.delete_topics([topic])

    report["subjects_total"] = len(sr.get_subjects())
    report["failures"] = failures
    print(json.dumps(report, indent=2, default=str))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
