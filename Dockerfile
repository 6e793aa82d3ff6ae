# syntax=docker/dockerfile:1
# The gigstream binaries (gigstream, gigstream-billing, gigstream-sla, gigstream-market) in one
# image, built from this repository: `docker compose build`, or
#   docker build -t gigstream:local .

# --- build -------------------------------------------------------------------------------
# The toolchain at least the workspace's rust-version (Cargo.toml).
FROM rust:1.94-bookworm AS build
# cmake builds the bundled librdkafka (rdkafka's cmake-build feature); libcurl and libssl
# headers are what its optional features link against (see .ci/run).
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake pkg-config libcurl4-openssl-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
        --bin gigstream --bin gigstream-billing --bin gigstream-sla --bin gigstream-market \
    && mkdir -p /out \
    && cp target/release/gigstream target/release/gigstream-billing \
          target/release/gigstream-sla target/release/gigstream-market /out/

# --- run ---------------------------------------------------------------------------------
FROM debian:bookworm-slim
# zlib for librdkafka, curl for the healthchecks, CA certificates for TLS to Kafka/ClickHouse.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libcurl4 libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 gigstream \
    && useradd --system --uid 10001 --gid gigstream --home-dir /var/lib/gigstream \
        --create-home --shell /usr/sbin/nologin gigstream
COPY --from=build /out/ /usr/local/bin/
# The reference data and schemas the binaries carry built in, as files to read or to copy and
# change (point GIGSTREAM_REFERENCE_DIR / [data] reference_dir at a changed copy).
COPY reference/ /usr/share/gigstream/reference/
COPY schemas/ /usr/share/gigstream/schemas/
COPY infra/gigstream.example.toml /etc/gigstream/gigstream.example.toml
ENV GIGSTREAM_DATA_DIR=/var/lib/gigstream/data
USER gigstream:gigstream
WORKDIR /var/lib/gigstream
# /health, /ready and /metrics: docker-compose.yml sets [http] listen to 0.0.0.0:9464 in every
# service container (GIGSTREAM_HTTP_LISTEN). Without it a service binary listens on 127.0.0.1
# only, at its own port (billing 9464, sla 9465, market 9466), which is unreachable from
# outside the container.
EXPOSE 9464
CMD ["gigstream", "--help"]
