//! Decode throughput of a Confluent-framed `RequestObserved` (the hottest message).
//! Not a timed assertion: run `cargo test --release -p gigstream-avro --test bench -- --ignored
//! --nocapture` and read the figure.

mod common;

use gigstream_avro::{Codec, Encoding, Registry};
use gigstream_core::Topic;
use std::time::Instant;

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn decode_request_observed_throughput() {
    let codec = Codec::new(Registry::builtin());
    let event = common::sample(Topic::Telemetry, "RequestObserved", 2);
    let mut bytes = Vec::new();
    codec
        .encode(&event, Encoding::Confluent, &mut bytes)
        .unwrap();
    let n = 3_000_000;
    let mut checksum = 0usize;
    for _ in 0..100_000 {
        checksum += codec.decode(Topic::Telemetry, &bytes).unwrap().key().len();
    }
    let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
    for _ in 0..n {
        let e = codec
            .decode(Topic::Telemetry, std::hint::black_box(&bytes))
            .unwrap();
        checksum += e.key().len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decoded {n} RequestObserved ({} bytes each) in {secs:.3}s wall: {:.2} M/s (checksum {checksum})",
        bytes.len(),
        n as f64 / secs / 1e6
    );
    // On a shared machine wall time includes waiting for a core; on-CPU time is per core.
    if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
        let cpu = (b - a) as f64 / 1e9;
        println!("on-cpu {cpu:.3}s: {:.2} M/s per core", n as f64 / cpu / 1e6);
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
