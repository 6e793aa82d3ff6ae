#!/usr/bin/env python3
"""Runs gigstream's dashboard panels and cookbook queries on a current ClickHouse (chdb).

ClickHouse 18.16 is what the tests run against as a server; users run current ClickHouse
(24.x-26.x). chdb is current ClickHouse in-process (pip install chdb), so this script gives
every query a second engine without a second server:

1. creates the tables from schemas/clickhouse/*.sql (the migration files, unchanged) in a
   fresh chdb session, in database `gigstream`;
2. loads every table from DATA_DIR/<table>.tsv (TabSeparatedWithNamesAndTypes, exported from
   the 18.16 server with every row version, kept as they are, so FINAL has work to do here
   too);
3. runs every query of QUERIES (a JSON list of {"name", "sql", "may_be_empty", "rows"}, the
   macros and template variables already expanded) and fails on an error, on an empty result
   where one is not allowed, or on a row count different from the 18.16 server's ("rows",
   when given).

Usage: check_queries.py --schema-dir schemas/clickhouse --data DATA_DIR --queries QUERIES.json
       [--tz TIMEZONE] [--report REPORT.json]

--tz is the 18.16 server's timezone() (the exported DateTime text is in it). Exit status 0
when every query passed, 1 when one failed, 2 when the input could not be loaded (chdb not
installed, bad files).
"""

import argparse
import json
import os
import sys
import tempfile
import time


def statements(sql):
    """Statements of a migration file: `--` lines dropped, a `;` at a line end ends one."""
    out, cur = [], []
    for line in sql.splitlines():
        t = line.strip()
        if not t or t.startswith("--"):
            continue
        cur.append(line)
        if t.endswith(";"):
            out.append("\n".join(cur).rstrip().rstrip(";"))
            cur = []
    if cur:
        out.append("\n".join(cur))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schema-dir", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--tz", default="UTC")
    ap.add_argument("--report")
    args = ap.parse_args()

    # chdb's server timezone is the process's; DateTime text from the 18.16 server is in its
    # timezone, so read it in the same one.
    os.environ["TZ"] = args.tz
    if hasattr(time, "tzset"):
        time.tzset()
    try:
        from chdb import session
    except ImportError as e:
        print(f"chdb is not installed ({e}): pip install chdb", file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="gigstream-chdb-")
    s = session.Session(work)
    version = str(s.query("SELECT version()", "TabSeparated")).strip()
    print(f"chdb: ClickHouse {version}, timezone {args.tz}")
    s.query("CREATE DATABASE IF NOT EXISTS gigstream")
    s.query("USE gigstream")
    # Keep every row version as loaded: by default current ClickHouse already merges an
    # inserted block by the table's engine (optimize_on_insert), and FINAL would have nothing
    # left to do.
    s.query("SET optimize_on_insert = 0")

    files = sorted(f for f in os.listdir(args.schema_dir) if f.endswith(".sql"))
    if not files:
        print(f"no .sql files in {args.schema_dir}", file=sys.stderr)
        return 2
    for f in files:
        with open(os.path.join(args.schema_dir, f), encoding="utf-8") as fh:
            for stmt in statements(fh.read()):
                try:
                    s.query(stmt)
                except Exception as e:  # noqa: BLE001 - report any chdb error with the statement
                    print(f"{f}: chdb refused the DDL statement:\n{stmt}\n{e}", file=sys.stderr)
                    return 2

    tables = [
        line.strip()
        for line in str(s.query("SHOW TABLES FROM gigstream", "TabSeparated")).splitlines()
        if line.strip()
    ]
    loaded = 0
    for t in tables:
        path = os.path.join(args.data, f"{t}.tsv")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as fh:
            header = fh.readline().decode("utf-8").rstrip("\n").split("\t")
            lines = sum(1 for _ in fh) - 1  # after the names, the types line
        cols = ", ".join(f"`{c}`" for c in header)
        lit = path.replace("\\", "\\\\").replace("'", "\\'")
        try:
            s.query(
                f"INSERT INTO `{t}` ({cols}) SELECT {cols} "
                f"FROM file('{lit}', 'TabSeparatedWithNamesAndTypes')"
            )
        except Exception as e:  # noqa: BLE001
            print(f"cannot load {path} into {t}: {e}", file=sys.stderr)
            return 2
        got = int(str(s.query(f"SELECT count() FROM `{t}`", "TabSeparated")).strip())
        if got != lines:
            print(f"{t}: loaded {got} rows but {path} has {lines}", file=sys.stderr)
            return 2
        loaded += 1
    if loaded == 0:
        print(f"no table data (<table>.tsv) in {args.data}", file=sys.stderr)
        return 2
    print(f"loaded {loaded} tables")

    with open(args.queries, encoding="utf-8") as fh:
        queries = json.load(fh)
    failures, report = [], []
    for q in queries:
        entry = {"name": q["name"], "rows": None, "error": None}
        try:
            res = json.loads(s.query(q["sql"], "JSONCompact").bytes())
            entry["rows"] = int(res["rows"])
        except Exception as e:  # noqa: BLE001
            entry["error"] = str(e).strip()
        report.append(entry)
        if entry["error"] is not None:
            failures.append(f"{q['name']}: {entry['error']}\n--- SQL:\n{q['sql']}")
        elif entry["rows"] == 0 and not q.get("may_be_empty", False):
            failures.append(f"{q['name']}: empty result\n--- SQL:\n{q['sql']}")
        elif q.get("rows") is not None and q["rows"] != entry["rows"]:
            failures.append(
                f"{q['name']}: {entry['rows']} rows on ClickHouse {version} but "
                f"{q['rows']} on the reference server\n--- SQL:\n{q['sql']}"
            )
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump({"version": version, "queries": report}, fh, indent=1)
    print(f"{len(queries) - len(failures)} of {len(queries)} queries passed on ClickHouse {version}")
    for f in failures:
        print(f"FAILED {f}\n", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
