//! The `gigstream` command's integration tests, in one binary: every test binary links the
//! whole pipeline (DataFusion, rdkafka, the ClickHouse client), so one link instead of four
//! keeps the build fast and small.

mod cli;
mod faults;
mod ops;
mod produce;
mod security;
mod support;
mod verify;
mod verify_clickhouse;
