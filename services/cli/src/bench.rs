//! `gigstream bench`: events per second on one core, on the embedded path, for decode alone and
//! for each service end to end (read + decode + validate + fold + final flush to Parquet).
//!
//! Everything runs on one thread, so the figures are per core. Run it from a release build
//! (`cargo run --release -p gigstream-cli -- bench`); a debug build says so in the report.
//! Figures are wall clock; the thread's on-CPU time is reported beside them, for machines whose
//! cores are shared with other work.

use crate::gen_cmd::{self, WireEncoding};
use anyhow::Result;
use gigstream_avro::Codec;
use gigstream_billing::Billing;
use gigstream_core::{Projection, RefData, Topic};
use gigstream_gen::GenConfig;
use gigstream_log::EmbeddedSource;
use gigstream_log::Log;
use gigstream_market::Market;
use gigstream_parquet::ParquetStore;
use gigstream_runtime::{Pipeline, RunOptions, Source};
use gigstream_sla::Sla;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// The SLA service's target on one core.
pub const SLA_TARGET_PER_SEC: f64 = 1_000_000.0;

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub records: u64,
    /// Wall-clock seconds: what `per_sec` and the target are measured on.
    pub seconds: f64,
    pub per_sec: f64,
    /// Seconds this thread was on a CPU meanwhile (Linux; `None` elsewhere). Lower than
    /// `seconds` when other processes compete for the cores: then `records / cpu_seconds` is
    /// what the same work gives on a core of its own.
    pub cpu_seconds: Option<f64>,
}

impl Throughput {
    fn new(records: u64, seconds: f64, cpu_seconds: Option<f64>) -> Throughput {
        Throughput {
            records,
            seconds,
            per_sec: if seconds > 0.0 {
                records as f64 / seconds
            } else {
                0.0
            },
            cpu_seconds,
        }
    }

    /// Records per on-CPU second.
    pub fn per_cpu_sec(&self) -> Option<f64> {
        self.cpu_seconds
            .filter(|s| *s > 0.0)
            .map(|s| self.records as f64 / s)
    }
}

/// On-CPU time of the calling thread (Linux schedstat, nanoseconds); `None` where unavailable.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A wall clock and this thread's CPU clock, started together.
struct Clocks {
    wall: Instant,
    cpu_ns: Option<u64>,
}

impl Clocks {
    fn start() -> Clocks {
        Clocks {
            cpu_ns: thread_cpu_ns(),
            wall: Instant::now(),
        }
    }

    fn throughput(&self, records: u64) -> Throughput {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu_ns, thread_cpu_ns()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e9),
            _ => None,
        };
        Throughput::new(records, wall, cpu)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceBench {
    pub topics: Vec<String>,
    /// Decode alone of the service's topics.
    pub decode: Throughput,
    /// Read + decode + validate + dedup + fold + final commit.
    pub end_to_end: Throughput,
    /// Of which rendering the tables and committing them (Parquet + checkpoint), seconds.
    pub commit_seconds: f64,
    /// end_to_end.per_sec / decode.per_sec.
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub build: &'static str,
    pub threads: u32,
    pub machine_cores: usize,
    pub generated_records: u64,
    pub services: BTreeMap<String, ServiceBench>,
    pub sla_target_per_sec: f64,
    pub sla_target_met: bool,
}

impl BenchReport {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "gigstream bench ({} build, 1 thread, {} cores on this machine, {} records generated)",
            self.build, self.machine_cores, self.generated_records
        );
        let _ = writeln!(
            s,
            "{:<8} {:>10} {:>14} {:>16} {:>7} {:>9} {:>18}",
            "service",
            "records",
            "decode/s",
            "end-to-end/s",
            "ratio",
            "commit s",
            "end-to-end/CPU-s"
        );
        for (name, b) in &self.services {
            let per_cpu = b
                .end_to_end
                .per_cpu_sec()
                .map_or_else(|| "-".to_string(), |v| format!("{v:.0}"));
            let _ = writeln!(
                s,
                "{:<8} {:>10} {:>14.0} {:>16.0} {:>7.2} {:>9.2} {:>18}",
                name,
                b.end_to_end.records,
                b.decode.per_sec,
                b.end_to_end.per_sec,
                b.ratio,
                b.commit_seconds,
                per_cpu
            );
        }
        let _ = writeln!(
            s,
            "end-to-end/CPU-s: records per second this thread was on a CPU (the wall-clock figure \
             is lower when other processes share the cores; the target is judged on wall clock)"
        );
        let _ = writeln!(
            s,
            "SLA target {:.0} events/s on one core: {}",
            self.sla_target_per_sec,
            if self.sla_target_met {
                "met"
            } else {
                "NOT met"
            }
        );
        if self.build == "debug" {
            let _ = writeln!(s, "note: this is a debug build; run `cargo run --release -p gigstream-cli -- bench` for real figures");
        }
        s
    }
}

fn decode_only(log_dir: &Path, codec: &Codec, topics: &[Topic]) -> Result<Throughput> {
    let mut source = EmbeddedSource::new(Log::open(log_dir)?, "bench-decode", topics, 4)?;
    let clocks = Clocks::start();
    let (mut n, mut failed) = (0u64, 0u64);
    loop {
        let got = source.poll(&mut |r| {
            n += 1;
            if codec.decode(r.topic, r.value).is_err() {
                failed += 1;
            }
        })?;
        if got == 0 {
            break;
        }
    }
    std::hint::black_box(failed);
    Ok(clocks.throughput(n))
}

fn end_to_end<P: Projection>(
    log_dir: &Path,
    tables: &Path,
    codec: &Codec,
    refdata: &Arc<RefData>,
) -> Result<(Throughput, f64)> {
    let mut source = EmbeddedSource::new(Log::open(log_dir)?, P::NAME, P::topics(), 4)?;
    let mut sink = ParquetStore::new(tables);
    let stop = AtomicBool::new(false);
    let opts = RunOptions {
        commit_every_records: u64::MAX,
        commit_interval: std::time::Duration::from_secs(3600),
        ..RunOptions::default()
    };
    let clocks = Clocks::start();
    let pipeline = Pipeline::new(codec.clone(), refdata.clone(), &mut source, &mut sink);
    let summary = gigstream_runtime::run::<P>(pipeline, &opts, &stop, &mut |_| {})?;
    Ok((
        clocks.throughput(summary.records),
        summary.commit_time.as_secs_f64(),
    ))
}

fn bench_service<P: Projection>(
    dir: &Path,
    codec: &Codec,
    refdata: &Arc<RefData>,
) -> Result<ServiceBench> {
    let log_dir = dir.join("log");
    let decode = decode_only(&log_dir, codec, P::topics())?;
    let (e2e, commit_seconds) = end_to_end::<P>(
        &log_dir,
        &dir.join(format!("tables-{}", P::NAME)),
        codec,
        refdata,
    )?;
    Ok(ServiceBench {
        topics: P::topics().iter().map(|t| t.name().to_string()).collect(),
        ratio: if decode.per_sec > 0.0 {
            e2e.per_sec / decode.per_sec
        } else {
            0.0
        },
        decode,
        end_to_end: e2e,
        commit_seconds,
    })
}

/// Generates `events` into a temporary log and measures every service.
pub fn run(refdata: &Arc<RefData>, codec: &Codec, events: u64) -> Result<BenchReport> {
    let dir = std::env::temp_dir().join(format!("gigstream-bench-{}", std::process::id()));
    let result = (|| {
        let cfg = GenConfig {
            events,
            days: 90,
            seed: 7,
            ..GenConfig::default()
        };
        let records = gen_cmd::generate_records(&cfg, refdata)?;
        let m = gen_cmd::write_log(
            &dir.join("log"),
            codec,
            &cfg,
            &records,
            WireEncoding::Confluent,
            4,
        )?;
        drop(records);
        let mut services = BTreeMap::new();
        services.insert(
            "sla".to_string(),
            bench_service::<Sla>(&dir, codec, refdata)?,
        );
        services.insert(
            "billing".to_string(),
            bench_service::<Billing>(&dir, codec, refdata)?,
        );
        services.insert(
            "market".to_string(),
            bench_service::<Market>(&dir, codec, refdata)?,
        );
        let met = services["sla"].end_to_end.per_sec >= SLA_TARGET_PER_SEC;
        Ok(BenchReport {
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            threads: 1,
            machine_cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            generated_records: m.records,
            services,
            sla_target_per_sec: SLA_TARGET_PER_SEC,
            sla_target_met: met,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
