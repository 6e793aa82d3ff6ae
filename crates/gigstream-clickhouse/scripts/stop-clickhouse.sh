#!/usr/bin/env bash
# Stops a server started by start-clickhouse.sh DIR PORT and waits until it has exited.
#
#   stop-clickhouse.sh DIR
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
pidfile=$1/clickhouse.pid
if [ ! -s "$pidfile" ]; then
    echo "no server pid in $pidfile; nothing to stop" >&2
    exit 0
fi
pid=$(cat "$pidfile")
if ! kill -0 "$pid" 2>/dev/null; then
    echo "server $pid is not running" >&2
    rm -f "$pidfile"
    exit 0
fi
kill -TERM "$pid"
for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$pidfile"
        exit 0
    fi
    sleep 0.5
done
echo "server $pid did not stop within 30 s; sending KILL" >&2
kill -KILL "$pid" 2>/dev/null || true
rm -f "$pidfile"
