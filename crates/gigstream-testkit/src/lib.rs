//! What gigstream's tests share (a dev-dependency only; nothing in production links it).
//!
//! - [`merge`]: the laws the runtime relies on in every projection: per-partition states,
//!   merged in any order, render the tables of one fold over the whole stream.
//! - [`fixtures`]: a table with a column of every type, for the sinks' round trips.
//! - [`harness`]: a test binary's `main` that runs the tests needing Kafka, ClickHouse or a
//!   schema registry only when they are configured (reported as ignored, with the reason,
//!   otherwise), and fails them when `GIGSTREAM_TEST_SERVICES=require` (CI) asks for the
//!   services.
//! - [`services`]: the Kafka, ClickHouse and schema registry settings of such tests, read by
//!   `gigstream-config` like every service reads them.

pub mod fixtures;
pub mod harness;
pub mod merge;
pub mod services;
