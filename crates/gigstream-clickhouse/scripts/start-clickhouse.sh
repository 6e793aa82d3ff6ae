#!/usr/bin/env bash
# Starts a throwaway ClickHouse server for the gigstream-clickhouse tests.
#
#   start-clickhouse.sh DIR PORT
#
# Prepares a config in DIR (data, tmp, user files, format schemas and logs all inside DIR),
# starts the server in the background (as user `clickhouse` when run as root), waits until
# `SELECT 1` answers on http://127.0.0.1:PORT and prints the server PID. The native and
# interserver ports are PORT+1 and PORT+2; all three must be free. Stop it with
# stop-clickhouse.sh DIR. Needs Debian's clickhouse-server package (18.16 or newer).
#
# When CLICKHOUSE_USERS_D names a directory, its *.xml files are copied into
# DIR/users.d/, which ClickHouse merges into users.xml (users, profiles, quotas), e.g.
# CLICKHOUSE_USERS_D=infra/clickhouse/users.d. Environment variables those files read
# with from_env="..." must be set for this script.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 DIR PORT" >&2
    exit 2
fi
dir=$1
port=$2
tcp_port=$((port + 1))
interserver_port=$((port + 2))
src=${CLICKHOUSE_CONFIG_DIR:-/etc/clickhouse-server}
server=$(command -v clickhouse-server || true)
if [ -z "$server" ]; then
    echo "clickhouse-server not found: apt-get install -y clickhouse-server clickhouse-client" >&2
    exit 1
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
cp "$src/users.xml" "$dir/users.xml"
rm -rf "$dir/users.d"
if [ -n "${CLICKHOUSE_USERS_D:-}" ]; then
    users_d=$CLICKHOUSE_USERS_D
    if [ ! -d "$users_d" ]; then
        echo "CLICKHOUSE_USERS_D=$users_d is not a directory" >&2
        exit 1
    fi
    mkdir -p "$dir/users.d"
    found=0
    for f in "$users_d"/*.xml; do
        [ -e "$f" ] || continue
        cp "$f" "$dir/users.d/"
        found=1
    done
    if [ "$found" -eq 0 ]; then
        echo "CLICKHOUSE_USERS_D=$users_d holds no *.xml file" >&2
        exit 1
    fi
fi
# Paths into DIR, ports moved, listen on 127.0.0.1 only.
sed -e "s#<path>/var/lib/clickhouse/</path>#<path>$dir/data/</path>#" \
    -e "s#<tmp_path>[^<]*</tmp_path>#<tmp_path>$dir/tmp/</tmp_path>#" \
    -e "s#<user_files_path>[^<]*</user_files_path>#<user_files_path>$dir/user_files/</user_files_path>#" \
    -e "s#<format_schema_path>[^<]*</format_schema_path>#<format_schema_path>$dir/format_schemas/</format_schema_path>#" \
    -e "s#<log>[^<]*</log>#<log>$dir/log/clickhouse-server.log</log>#" \
    -e "s#<errorlog>[^<]*</errorlog>#<errorlog>$dir/log/clickhouse-server.err.log</errorlog>#" \
    -e "s#<http_port>[0-9]*</http_port>#<http_port>$port</http_port><listen_host>127.0.0.1</listen_host>#" \
    -e "s#<tcp_port>[0-9]*</tcp_port>#<tcp_port>$tcp_port</tcp_port>#" \
    -e "s#<interserver_http_port>[0-9]*</interserver_http_port>#<interserver_http_port>$interserver_port</interserver_http_port>#" \
    "$src/config.xml" >"$dir/config.xml"
if ! grep -q "<path>$dir/data/</path>" "$dir/config.xml"; then
    echo "could not rewrite the data path in $src/config.xml; is it the Debian default config?" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    chown -R clickhouse: "$dir"
    run=(runuser -u clickhouse --)
else
    run=()
fi
"${run[@]}" "$server" --config-file="$dir/config.xml" --pid-file="$dir/clickhouse.pid" --daemon

for _ in $(seq 1 120); do
    if [ "$(curl -s --max-time 2 "http://127.0.0.1:$port/?query=SELECT%201" || true)" = "1" ]; then
        cat "$dir/clickhouse.pid"
        echo
        exit 0
    fi
    sleep 0.5
done
echo "clickhouse did not answer on port $port within 60 s; see $dir/log/" >&2
exit 1
