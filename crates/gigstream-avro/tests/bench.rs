//! Decode throughput of a Confluent-framed `RequestObserved` (the hottest message), with a
//! catalog id and with a schema-registry id (the writer-schema cache's hit path).
//! Not a timed assertion: run `cargo test --release -p gigstream-avro --test bench -- --ignored
//! --nocapture --test-threads 1` and read the figures.

mod common;

use gigstream_avro::{Codec, Encoding, Registry, StaticWriterSchemas};
use gigstream_core::Topic;
use std::sync::Arc;
use std::time::Instant;

/// Decodes `bytes` `n` times after a warm-up; prints wall and on-CPU ns per record.
fn run(label: &str, codec: &Codec, bytes: &[u8], n: usize) {
    let mut checksum = 0usize;
    for _ in 0..100_000 {
        checksum += codec.decode(Topic::Telemetry, bytes).unwrap().key().len();
    }
    let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
    for _ in 0..n {
        let e = codec
            .decode(Topic::Telemetry, std::hint::black_box(bytes))
            .unwrap();
        checksum += e.key().len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label}: decoded {n} RequestObserved ({} bytes each) in {secs:.3}s wall: {:.2} M/s, {:.0} ns/record (checksum {checksum})",
        bytes.len(),
        n as f64 / secs / 1e6,
        secs * 1e9 / n as f64
    );
    // On a shared machine wall time includes waiting for a core; on-CPU time is per core.
    if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
        let cpu = (b - a) as f64 / 1e9;
        println!(
            "{label}: on-cpu {cpu:.3}s: {:.2} M/s per core, {:.0} ns/record",
            n as f64 / cpu / 1e6,
            cpu * 1e9 / n as f64
        );
    }
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn decode_request_observed_throughput() {
    let codec = Codec::new(Registry::builtin());
    let event = common::sample(Topic::Telemetry, "RequestObserved", 2);
    let mut bytes = Vec::new();
    codec
        .encode(&event, Encoding::Confluent, &mut bytes)
        .unwrap();
    let var = |k: &str, default: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n = var("GIGSTREAM_BENCH_N", 3_000_000);

    // The same datum under an id a schema registry assigned (cache hit after the first).
    let reg = codec.registry().clone();
    let text = reg.schema_json(reg.latest(Topic::Telemetry)).unwrap();
    let mut source = StaticWriterSchemas::new("bench registry");
    for id in 1000..1020 {
        source = source.with(id, text);
    }
    let with_registry = Codec::new(reg).with_writer_schemas(Arc::new(source));
    let mut registry_bytes = bytes.clone();
    registry_bytes[1..5].copy_from_slice(&1010u32.to_be_bytes());
    for id in 1000..1020u32 {
        // 20 cached ids: the look-up is a binary search among them.
        let mut b = bytes.clone();
        b[1..5].copy_from_slice(&id.to_be_bytes());
        with_registry.decode(Topic::Telemetry, &b).unwrap();
    }
    // GIGSTREAM_BENCH_ONLY=catalog|registry runs one path only (for `perf stat`).
    let only = std::env::var("GIGSTREAM_BENCH_ONLY").unwrap_or_default();
    for round in 0..var("GIGSTREAM_BENCH_ROUNDS", 4) {
        if only != "registry" {
            run(&format!("catalog id  [{round}]"), &codec, &bytes, n);
        }
        if only != "catalog" {
            run(
                &format!("registry id [{round}]"),
                &with_registry,
                &registry_bytes,
                n,
            );
        }
    }
}

/// This thread's on-CPU nanoseconds (Linux schedstat), if available.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
