#!/usr/bin/env bash
# Starts the Kafka-compatible broker tansu in the background for gigstream's Kafka tests.
#
#   start-tansu.sh DIR PORT
#
# Runs from DIR with SQLite storage (DIR/tansu.db, kept across restarts), listening and
# advertising 127.0.0.1:PORT only; log in DIR/tansu.log, PID in DIR/tansu.pid. Waits until the
# broker answers a Kafka Metadata request (sent with bash's /dev/tcp, no client needed), then
# prints the PID. Install tansu with:
#   cargo install tansu --locked --features dynostore,libsql
# TANSU (env) overrides the binary; START_TIMEOUT (env, seconds, default 30).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 DIR PORT" >&2
    exit 2
fi
dir=$1
port=$2
tansu=${TANSU:-tansu}
timeout=${START_TIMEOUT:-30}

if ! command -v "$tansu" >/dev/null 2>&1; then
    echo "tansu not found; install it: cargo install tansu --locked --features dynostore,libsql" >&2
    exit 1
fi
mkdir -p "$dir"
cd "$dir"
if [[ -f tansu.pid ]] && kill -0 "$(cat tansu.pid)" 2>/dev/null; then
    echo "tansu already runs from $dir (pid $(cat tansu.pid)); stop it first: stop-tansu.sh $dir" >&2
    exit 1
fi

# Explicit flags so that stray CLUSTER_ID / LISTENER_URL / STORAGE_ENGINE variables do not
# change where it listens or stores.
nohup "$tansu" broker \
    --cluster-id gigstream \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "sqlite://tansu.db" \
    >tansu.log 2>&1 </dev/null &
pid=$!
echo "$pid" >tansu.pid

# Kafka Metadata v0 request for all topics: length 19, api key 3, version 0,
# correlation id 7, client id "ready", empty topic array.
request='\x00\x00\x00\x13\x00\x03\x00\x00\x00\x00\x00\x07\x00\x05ready\x00\x00\x00\x00'

metadata_ok() {
    local reply
    reply=$(
        exec 2>/dev/null
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf "$request" >&3
        # response: int32 length, int32 correlation id (7), then the broker array.
        timeout 2 head -c 12 <&3 | od -An -tx1 | tr -d ' \n'
    ) || return 1
    # correlation id 7 and at least one broker advertised
    [[ ${reply:8:8} == 00000007 && ${reply:16:8} != 00000000 && ${#reply} -eq 24 ]]
}

deadline=$((SECONDS + timeout))
until metadata_ok; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "tansu exited during start; last lines of $dir/tansu.log:" >&2
        tail -20 tansu.log >&2
        rm -f tansu.pid
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "tansu did not answer a metadata request on 127.0.0.1:$port within ${timeout}s; see $dir/tansu.log" >&2
        kill "$pid" 2>/dev/null || true
        rm -f tansu.pid
        exit 1
    fi
    sleep 0.2
done
echo "$pid"
