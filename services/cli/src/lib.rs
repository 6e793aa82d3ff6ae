//! The `gigstream` command: generate streams, produce them to Kafka, run the services on the
//! embedded log, query the aggregates with SQL, run the demo and the benchmark. `main.rs` only
//! parses arguments and reports errors; everything here can be driven by tests.

pub mod bench;
pub mod bench_kafka;
pub mod bench_steady;
pub mod demo;
pub mod gen_cmd;
pub mod produce_cmd;
pub mod produce_log;
pub mod replay;
pub mod schemas_cmd;
pub mod services;
pub mod sql;
pub mod summary;
pub mod verify;
