#!/usr/bin/env bash
# Stops the tansu started by start-tansu.sh from DIR: SIGTERM, wait up to STOP_TIMEOUT seconds
# (default 15; it can take a few seconds), then SIGKILL.
#
#   stop-tansu.sh DIR
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
pidfile=$1/tansu.pid
timeout=${STOP_TIMEOUT:-15}
if [[ ! -f $pidfile ]]; then
    echo "no $pidfile: tansu was not started from $1" >&2
    exit 0
fi
pid=$(cat "$pidfile")
if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pidfile"
    exit 0
fi
kill -TERM "$pid"
deadline=$((SECONDS + timeout))
while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
        echo "tansu (pid $pid) still runs ${timeout}s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
    fi
    sleep 0.2
done
rm -f "$pidfile"
