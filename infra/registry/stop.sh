#!/usr/bin/env bash
# Stops the registry that start.sh started from DIR: SIGTERM (Quarkus shuts down cleanly), wait
# up to STOP_TIMEOUT seconds (default 30), then SIGKILL. Removes DIR/registry.pid; exits 0 when
# nothing runs from DIR. With in-memory storage (the default) the schemas are gone with it.
#
#   stop.sh DIR
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
if [[ ! -d $1 ]]; then
    echo "stop.sh: no dir $1: the registry was not started from it" >&2
    exit 0
fi
dir=$(cd "$1" && pwd)
pidfile=$dir/registry.pid
timeout=${STOP_TIMEOUT:-30}
if [[ ! -f $pidfile ]]; then
    echo "stop.sh: no $pidfile: the registry was not started from $dir (or is stopped already)" >&2
    exit 0
fi
pid=$(cat "$pidfile")
# Only the JVM that start.sh started from this DIR (its command line carries the mark): a PID
# left by a registry that died may belong to another program now.
mark=-Dgigstream.registry.dir=$dir
if ! [[ $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null ||
    ! tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$mark"; then
    rm -f "$pidfile"
    exit 0
fi
kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + timeout))
while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
        echo "stop.sh: the registry (pid $pid) still runs ${timeout}s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        break
    fi
    sleep 0.1
done
rm -f "$pidfile"
# The class archive the JVM wrote at its exit (start.sh, AppCDS): into the cache for the next
# starts, unless another registry put one there first.
target=$(cat "$dir/registry.jsa-target" 2>/dev/null || true)
if [[ -n $target && -s $dir/registry.jsa && ! -e $target ]]; then
    tmp=$target.tmp.$$
    if cp "$dir/registry.jsa" "$tmp" 2>/dev/null; then
        mv -f "$tmp" "$target" || rm -f "$tmp"
    else
        rm -f "$tmp"
    fi
fi
rm -f "$dir/registry.jsa" "$dir/registry.jsa-target"
