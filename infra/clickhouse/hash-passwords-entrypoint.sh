#!/bin/bash
# Entry point wrapper for the official clickhouse/clickhouse-server image (docker-compose.yml):
# turns the plain passwords of gigstream's ClickHouse users into the SHA-256 hex values
# users.d/gigstream.xml reads (from_env), removes the plain ones from the environment, and
# starts the image's own entry point. Refuses to start when a password is missing or empty,
# so no user is ever created without one.
set -euo pipefail

for user in WRITER GRAFANA ADMIN; do
    plain_var="GIGSTREAM_${user}_PASSWORD"
    plain=${!plain_var:-}
    if [ -z "$plain" ]; then
        echo "$plain_var is not set or empty: set it in .env (see .env.example)" >&2
        exit 1
    fi
    hash=$(printf %s "$plain" | sha256sum | cut -d' ' -f1)
    export "GIGSTREAM_${user}_PASSWORD_SHA256=$hash"
    unset "$plain_var"
done

exec /entrypoint.sh "$@"
