#!/usr/bin/env python3
"""Registers gigstream's schema catalog in a schema registry so that the registry's ids are the
catalog's ids (schemas/catalog.json: orders v1 = 1, orders v2 = 2, ..., telemetry v2 = 6).

    seed_catalog.py REGISTRY_URL [--prefix PREFIX]   # e.g. http://127.0.0.1:28081/apis/ccompat/v7

Gigstream's Rust consumers resolve the 4-byte id of the Confluent header through the catalog,
not through a registry. A registry assigns its own ids: on an empty Apicurio Registry (start.sh
starts one, in memory) they are 1, 2, 3, ... in the order new schema texts arrive, and the same
text under another subject gets the same id. So registering the six catalog files, in id order,
into an empty registry gives exactly the catalog's ids; afterwards any producer that registers
the same file text (the Go producer does: clients/go/events embeds the files byte for byte)
under any subject gets the catalog id back, and its records are byte-identical to
schemas/golden/*.hex. Apicurio ignores the "id" of Confluent's IMPORT mode, so this ordering is
the only way to choose ids there.

Subjects: PREFIX + <topic> + "-value" (v1 then v2 of each topic as versions 1 and 2; the v2 schemas
are BACKWARD compatible with v1). Stdlib only. Exits non-zero, naming the schema, when an id
differs from the catalog's (the registry was not empty, or another text was registered first);
idempotent on a registry it seeded before.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas")


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="the registry's Confluent-compatible base URL")
    ap.add_argument("--prefix", default="", help="topic prefix of the subjects (default none)")
    args = ap.parse_args()
    base = args.url.rstrip("/")
    with open(os.path.join(SCHEMAS, "catalog.json")) as f:
        catalog = sorted(json.load(f)["schemas"], key=lambda s: s["id"])
    bad = 0
    for s in catalog:
        with open(os.path.join(SCHEMAS, s["file"])) as f:
            text = f.read()  # the exact file text: a registry that compares text must see the same
        subject = f"{args.prefix}{s['topic']}-value"
        status, body = post(f"{base}/subjects/{subject}/versions", {"schema": text})
        if status != 200:
            print(f"seed_catalog: {s['file']} under {subject}: HTTP {status} {body}", file=sys.stderr)
            return 1
        ok = body.get("id") == s["id"]
        bad += not ok
        print(f"{s['file']:20} {subject:24} registry id {body.get('id')} catalog id {s['id']}"
              + ("" if ok else "  MISMATCH"))
    if bad:
        print(f"seed_catalog: {bad} ids differ from schemas/catalog.json: seed an empty registry "
              "(start.sh with a fresh DIR) before anything else registers", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
