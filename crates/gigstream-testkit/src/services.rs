//! The Kafka, ClickHouse and schema registry a test runs against: the settings every service
//! reads (`gigstream-config`: `GIGSTREAM_KAFKA_*`, `GIGSTREAM_CLICKHOUSE_*`,
//! `GIGSTREAM_SCHEMA_REGISTRY_*`, a `GIGSTREAM_CONFIG` file), and the test harness's own variables, all named `GIGSTREAM_TEST_*` so that no
//! service ever reads them.
//!
//! | variable | meaning |
//! |---|---|
//! | `GIGSTREAM_TEST_SERVICES=require` | tests that need Kafka, ClickHouse or a schema registry fail when it is not configured (CI) |
//! | `GIGSTREAM_TEST_KAFKA_DIR` | the directory `infra/kafka/start.sh` runs the broker from (tests that restart it) |
//! | `GIGSTREAM_TEST_CLICKHOUSE_DIR`, `GIGSTREAM_TEST_CLICKHOUSE_PORT` | where `start-clickhouse.sh` runs the server (tests that stop and restart it) |
//! | `GIGSTREAM_TEST_SEED` | the seed of a test's random choices |
//! | `GIGSTREAM_TEST_KEEP_LOGS` | where a failed test keeps its service logs |

use gigstream_config::{ClickHouseConfig, Config, KafkaConfig, SchemaRegistryConfig};

/// The switch that makes tests needing the services fail instead of being skipped.
pub const REQUIRE: &str = "GIGSTREAM_TEST_SERVICES";

fn config() -> Config {
    Config::load(None)
        .unwrap_or_else(|e| panic!("the settings of the tests are invalid: {e}"))
        .config
}

/// The configured Kafka, if any.
pub fn try_kafka() -> Option<KafkaConfig> {
    config().kafka()
}

/// The configured ClickHouse, if any.
pub fn try_clickhouse() -> Option<ClickHouseConfig> {
    config().clickhouse()
}

/// The schema registry settings of this test process, read once (see [`withhold_registry`]).
static REGISTRY: std::sync::OnceLock<Option<SchemaRegistryConfig>> = std::sync::OnceLock::new();

/// The configured schema registry, if any.
pub fn try_registry() -> Option<SchemaRegistryConfig> {
    REGISTRY.get_or_init(|| config().schema_registry()).clone()
}

/// Keeps the schema registry settings for the tests that ask for them ([`registry`]) and
/// removes the `GIGSTREAM_SCHEMA_REGISTRY_*` variables from this process's environment, so
/// that the processes a test starts (`gigstream run`, `produce`, `verify`, the service
/// binaries) inherit none: a registry changes which ids Confluent records carry and how they
/// are read, and the tests that do not name one produce and read the catalog's ids. A test
/// that wants a registry gives its settings to the processes it starts. Called by
/// [`crate::harness::main_of`] before any test runs (no other thread reads the environment
/// yet).
pub fn withhold_registry() {
    let _ = try_registry();
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("GIGSTREAM_SCHEMA_REGISTRY_"))
        .collect();
    for name in names {
        std::env::remove_var(name);
    }
}

/// The configured schema registry; panics with what to set when there is none.
pub fn registry() -> SchemaRegistryConfig {
    try_registry().unwrap_or_else(|| {
        panic!(
            "this test needs a schema registry: set GIGSTREAM_SCHEMA_REGISTRY_URL \
             (infra/registry/start.sh DIR PORT starts Apicurio Registry; its URL is \
             http://127.0.0.1:PORT/apis/ccompat/v7), or unset {REQUIRE} to skip it"
        )
    })
}

/// The configured Kafka; panics with what to set when there is none (the harness only runs a
/// test that needs it without one when the services are required).
pub fn kafka() -> KafkaConfig {
    try_kafka().unwrap_or_else(|| {
        panic!(
            "this test needs Kafka: set GIGSTREAM_KAFKA_BROKERS (infra/kafka/start.sh DIR PORT \
             starts one), or unset {REQUIRE} to skip it"
        )
    })
}

/// The configured ClickHouse; panics with what to set when there is none.
pub fn clickhouse() -> ClickHouseConfig {
    try_clickhouse().unwrap_or_else(|| {
        panic!(
            "this test needs ClickHouse: set GIGSTREAM_CLICKHOUSE_URL \
             (crates/gigstream-clickhouse/scripts/start-clickhouse.sh DIR PORT starts one), or \
             unset {REQUIRE} to skip it"
        )
    })
}

/// Whether the services are required (`GIGSTREAM_TEST_SERVICES=require`).
pub fn required() -> bool {
    match std::env::var(REQUIRE) {
        Ok(v) if v == "require" => true,
        Ok(v) if v.is_empty() || v == "optional" => false,
        Ok(v) => panic!("{REQUIRE}={v}: expected `require` or `optional`"),
        Err(_) => false,
    }
}

/// A harness variable (`GIGSTREAM_TEST_<NAME>`), if set and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(format!("GIGSTREAM_TEST_{name}"))
        .ok()
        .filter(|v| !v.is_empty())
}
