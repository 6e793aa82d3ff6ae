//! Write and read throughput of the event log with 1M records of ~100 bytes.
//!
//! `cargo run --release -p gigstream-log --example log_throughput [records]`
//!
//! Reading is what the services depend on (the SLA service needs well under 200 ns per record
//! to reach 1M events/s end to end); the file is in the page cache, as it is when a service
//! follows a producer.

use std::time::Instant;

use gigstream_log::{Batch, Log, LogError};

fn main() -> Result<(), LogError> {
    let records: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().map_err(|e| LogError::InvalidArgument(e.to_string()))?;
    let log = Log::open(dir.path())?;
    log.create_topic("probes", 1)?;

    let value = [b'v'; 100];
    let start = Instant::now();
    let mut producer = log.producer()?;
    for i in 0..records {
        let key = format!("probe-{}", i % 1000);
        producer.send_to("probes", 0, key.as_bytes(), &value, i as i64, &[])?;
    }
    producer.flush()?;
    let write = start.elapsed();
    report("write (incl. fsync)", records, write);

    for round in 1..=3 {
        let start = Instant::now();
        let mut reader = log.reader("probes", 0, 0)?;
        let mut batch = Batch::new();
        let (mut n, mut bytes, mut ts) = (0u64, 0usize, 0i64);
        loop {
            reader.read(&mut batch, 1 << 20)?;
            if batch.is_empty() {
                break;
            }
            for r in batch.iter() {
                n += 1;
                bytes += r.key.len() + r.value.len();
                ts = ts.wrapping_add(r.timestamp_ms);
            }
        }
        let read = start.elapsed();
        assert_eq!(n, records, "read back every record");
        report(
            &format!("read round {round} ({bytes} payload bytes, checksum {ts})"),
            n,
            read,
        );
    }
    Ok(())
}

fn report(what: &str, n: u64, elapsed: std::time::Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{what}: {n} records in {:.3} s = {:.2} M records/s, {:.0} ns/record",
        secs,
        n as f64 / secs / 1e6,
        secs * 1e9 / n as f64
    );
}
