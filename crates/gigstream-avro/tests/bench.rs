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
    codec.encode(&event, Encoding::Confluent, &mut bytes).unwrap();
    let n = 3_000_000;
    let mut checksum = 0usize;
    for _ in 0..100_000 {
        checksum += codec.decode(Topic::Telemetry, &bytes).unwrap().key().len();
    }
    let start = Instant::now();
    for _ in 0..n {
        let e = codec.decode(Topic::Telemetry, std::hint::black_box(&bytes)).unwrap();
        checksum += e.key().len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "decoded {n} RequestObserved ({} bytes each) in {secs:.3}s: {:.2} M/s (checksum {checksum})",
        bytes.len(),
        n as f64 / secs / 1e6
    );
}
