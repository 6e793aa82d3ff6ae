#!/usr/bin/env bash
# Stops the Kafka that start.sh started from DIR: SIGTERM (a clean shutdown: logs flushed,
# nothing to recover at the next start), wait up to STOP_TIMEOUT seconds (default 30), then
# SIGKILL. Removes DIR/kafka.pid; exits 0 when nothing runs from DIR. DIR's data is kept.
#
#   stop.sh DIR
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
pidfile=$1/kafka.pid
timeout=${STOP_TIMEOUT:-30}
if [[ ! -f $pidfile ]]; then
    echo "stop.sh: no $pidfile: Kafka was not started from $1 (or is stopped already)" >&2
    exit 0
fi
pid=$(cat "$pidfile")
# Only a live kafka.Kafka: a PID left by a broker that died may belong to another program now.
if ! [[ $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null ||
    ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
    rm -f "$pidfile"
    exit 0
fi
kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + timeout))
while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
        echo "stop.sh: Kafka (pid $pid) still runs ${timeout}s after SIGTERM; killing it (the" \
            "next start recovers its logs)" >&2
        kill -KILL "$pid" 2>/dev/null || true
        # Until it is gone its ports and its lock on DIR/data are still held.
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        break
    fi
    sleep 0.1
done
rm -f "$pidfile"
