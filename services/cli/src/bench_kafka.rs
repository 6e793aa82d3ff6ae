//! `gigstream bench-kafka`: the production path's figures, against the configured broker and
//! ClickHouse, in topics and a database of its own (removed at the end):
//!
//! - **throughput**: the SLA service reading a produced backlog of telemetry from Kafka into
//!   ClickHouse, as a ratio of a raw librdkafka consume (count only) of the same topic in the
//!   same run;
//! - **freshness**: with the service following at a steady produce rate, the time from a record
//!   being in the broker (its partition's end offset passing it) to its effect being visible
//!   in ClickHouse (the checkpoint committed with the tables passing it), p50/p99/max over
//!   every record, sampled every 20 ms on both sides.

use crate::produce_cmd::{self, ProduceArgs};
use anyhow::{bail, Context, Result};
use gigstream_avro::Codec;
use gigstream_clickhouse::{ClickHouseConfig, ClickHouseSink, Connection};
use gigstream_config::DataDir;
use gigstream_core::{Projection, RefData, Topic};
use gigstream_gen::GenConfig;
use gigstream_host::{run_service, Backends, ServiceRun};
use gigstream_kafka::KafkaConfig;
use gigstream_runtime::RunOptions;
use gigstream_sla::Sla;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What `bench-kafka` measured.
#[derive(Debug, Clone, Serialize)]
pub struct KafkaBenchReport {
    pub backlog_records: u64,
    pub raw_consume_per_sec: f64,
    pub service_per_sec: f64,
    /// Service rate / raw consume rate.
    pub ratio: f64,
    pub service_seconds: f64,
    pub rate: f64,
    pub fresh_records: u64,
    pub commit_interval_ms: u64,
    pub freshness_p50_ms: f64,
    pub freshness_p99_ms: f64,
    pub freshness_max_ms: f64,
}

impl KafkaBenchReport {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "throughput, {} telemetry records from Kafka into ClickHouse (sla):",
            self.backlog_records
        );
        let _ = writeln!(
            s,
            "  raw librdkafka consume   {:>10.0} records/s",
            self.raw_consume_per_sec
        );
        let _ = writeln!(
            s,
            "  sla service              {:>10.0} records/s ({:.1} s, commit included)",
            self.service_per_sec, self.service_seconds
        );
        let _ = writeln!(s, "  ratio                    {:>10.2}", self.ratio);
        let _ = writeln!(
            s,
            "freshness at {:.0} events/s, {} telemetry records, commit every {} ms:",
            self.rate, self.fresh_records, self.commit_interval_ms
        );
        let _ = writeln!(
            s,
            "  in broker -> visible in ClickHouse: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            self.freshness_p50_ms, self.freshness_p99_ms, self.freshness_max_ms
        );
        s
    }
}

fn stamp() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

pub(crate) fn produce(
    kafka: &KafkaConfig,
    gen: &GenConfig,
    rate: Option<f64>,
    refdata: &RefData,
    codec: &Codec,
) -> Result<u64> {
    let args = ProduceArgs {
        from: Vec::new(),
        brokers: Some(kafka.brokers.clone()),
        topic_prefix: Some(kafka.topic_prefix.clone()),
        partitions: 4,
        rate,
        timestamp: None,
    };
    let report = produce_cmd::run(&args, Some(kafka.clone()), gen, codec, refdata)?;
    Ok(report.summary.delivered)
}

fn stored(sink: &ClickHouseSink) -> BTreeMap<u32, u64> {
    sink.stored_tasks(Sla::NAME, None, false)
        .map(|ts| {
            ts.into_iter()
                .map(|t| (t.partition, t.next_offset))
                .collect()
        })
        .unwrap_or_default()
}

/// Time between two samples of either side (the broker's end offsets, the checkpoints in
/// ClickHouse): the resolution of the freshness figures.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// The two parts, naming their topics and databases.
const PARTS: [&str; 2] = ["throughput", "freshness"];

/// How long the service may take to catch up after the end of production.
const LIMIT_S: u64 = 60;

/// Samples of one side: (time since start, next offset per partition).
type Series = Vec<(Duration, BTreeMap<u32, u64>)>;

/// For each partition and offset in `[from, to)`, the first sample time at which the series
/// had passed it.
fn first_passing(
    series: &Series,
    from: &BTreeMap<u32, u64>,
    to: &BTreeMap<u32, u64>,
) -> Vec<Option<Duration>> {
    let mut out = Vec::new();
    for (&p, &end) in to {
        let start = from.get(&p).copied().unwrap_or(0);
        let mut i = 0;
        for o in start..end {
            while i < series.len() && series[i].1.get(&p).copied().unwrap_or(0) <= o {
                i += 1;
            }
            out.push(series.get(i).map(|s| s.0));
        }
    }
    out
}

/// How much load the benchmark puts on.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Events of the backlog for the throughput part.
    pub events: u64,
    /// Events per second during the freshness part.
    pub rate: f64,
    /// Seconds of producing during the freshness part.
    pub seconds: u64,
}

/// Runs the benchmark (see the module doc).
pub fn run(
    kafka: &KafkaConfig,
    clickhouse: &ClickHouseConfig,
    codec: &Codec,
    refdata: &Arc<RefData>,
    load: Load,
) -> Result<KafkaBenchReport> {
    let id = stamp();
    let mut ch = clickhouse.clone();
    ch.database = format!("{}_bench_{id}", clickhouse.database);
    let admin = Connection::new(ch.clone(), false)?;
    let result = measure(kafka, &ch, codec, refdata, load, id);
    for part in PARTS {
        let _ = admin.execute(
            "dropping a benchmark database",
            &format!("DROP DATABASE IF EXISTS `{}_{part}`", ch.database),
        );
    }
    result
}

fn measure(
    kafka: &KafkaConfig,
    ch: &ClickHouseConfig,
    codec: &Codec,
    refdata: &Arc<RefData>,
    load: Load,
    id: u128,
) -> Result<KafkaBenchReport> {
    let Load {
        events,
        rate,
        seconds,
    } = load;
    let tmp = std::env::temp_dir().join(format!("gigstream-bench-kafka-{id}"));
    // Each part has its topics and its database: the checkpoints of the throughput part must
    // not be those the freshness part starts from.
    let database = |part: &str| {
        let mut c = ch.clone();
        c.database = format!("{}_{part}", ch.database);
        c
    };
    let backends = |k: KafkaConfig, part: &str| Backends {
        data_dir: DataDir::new(tmp.join(part)),
        kafka: Some(k),
        clickhouse: Some(database(part)),
    };
    let service_run = |backends, options| ServiceRun {
        backends,
        options,
        codec: codec.clone(),
        refdata: refdata.clone(),
        observer: None,
    };

    // Throughput: a backlog, read raw and then by the service.
    eprintln!("producing a backlog of {events} events ...");
    let k1 = kafka
        .clone()
        .with_topic_prefix(format!("{}bench-{id}-{}.", kafka.topic_prefix, PARTS[0]));
    let gen = GenConfig {
        events,
        days: 30,
        ..GenConfig::default()
    };
    produce(&k1, &gen, None, refdata, codec)?;
    eprintln!("raw consume ...");
    let raw = gigstream_kafka::raw_consume(&k1, &[Topic::Telemetry], &format!("bench-raw-{id}"))?;
    eprintln!("sla service over the backlog ...");
    let never = AtomicBool::new(false);
    let b1 = backends(k1, PARTS[0]);
    let summary = run_service::<Sla>(
        &service_run(&b1, RunOptions::default()),
        &never,
        &mut |_| {},
    )?;
    if summary.records != raw.records {
        bail!(
            "the service read {} records but the topic holds {}",
            summary.records,
            raw.records
        );
    }
    let raw_rate = raw.records as f64 / raw.elapsed.as_secs_f64().max(1e-9);
    let service_rate = summary.records as f64 / summary.elapsed.as_secs_f64().max(1e-9);

    // Freshness: the service follows while events arrive at a steady rate.
    let k2 = kafka
        .clone()
        .with_topic_prefix(format!("{}bench-{id}-{}.", kafka.topic_prefix, PARTS[1]));
    let warmup = GenConfig {
        events: 200,
        days: 2,
        ..GenConfig::default()
    };
    produce(&k2, &warmup, None, refdata, codec)?;
    let commit_interval = Duration::from_millis(200);
    let run = RunOptions {
        follow: true,
        commit_interval,
        idle_wait: Duration::from_millis(10),
        ..RunOptions::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let service = {
        let (b2, codec, refdata, stop) = (
            backends(k2.clone(), PARTS[1]),
            codec.clone(),
            refdata.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            let run = ServiceRun {
                backends: &b2,
                options: run,
                codec,
                refdata,
                observer: None,
            };
            run_service::<Sla>(&run, &stop, &mut |_| {})
        })
    };
    let sink = ClickHouseSink::connect(database(PARTS[1]))?;
    let start_end = gigstream_kafka::end_offsets(&k2, &[Topic::Telemetry])?;
    let start: BTreeMap<u32, u64> = start_end.iter().map(|((_, p), o)| (*p, *o)).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    // Caught up with the warm-up (an empty partition may have no checkpoint yet).
    let caught_up = |have: &BTreeMap<u32, u64>| {
        start
            .iter()
            .all(|(p, o)| have.get(p).copied().unwrap_or(0) >= *o)
    };
    while !caught_up(&stored(&sink)) {
        if Instant::now() > deadline {
            bail!("the sla service did not start consuming within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    eprintln!("producing at {rate} events/s for {seconds} s while the service follows ...");
    let t0 = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let produced: Arc<Mutex<Series>> = Arc::default();
    // One client for every sample: each read is one watermark request per partition.
    let ends = gigstream_kafka::EndOffsets::new(&k2, &[Topic::Telemetry])?;
    let sampler = {
        let (done, produced) = (done.clone(), produced.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Ok(read) = ends.read() {
                    let at = t0.elapsed();
                    let m = read.into_iter().map(|((_, p), o)| (p, o)).collect();
                    produced.lock().expect("sampler lock").push((at, m));
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        })
    };
    let producer = {
        let (k2, codec, refdata) = (k2.clone(), codec.clone(), refdata.clone());
        let gen = GenConfig {
            events: (rate * seconds as f64) as u64,
            days: 2,
            seed: 7,
            ..GenConfig::default()
        };
        std::thread::spawn(move || produce(&k2, &gen, Some(rate), &refdata, &codec))
    };
    let mut visible: Series = Vec::new();
    let mut final_end: Option<BTreeMap<u32, u64>> = None;
    loop {
        let s = stored(&sink);
        visible.push((t0.elapsed(), s.clone()));
        if final_end.is_none() && producer.is_finished() {
            let ends = gigstream_kafka::end_offsets(&k2, &[Topic::Telemetry])?;
            final_end = Some(ends.into_iter().map(|((_, p), o)| (p, o)).collect());
        }
        if let Some(end) = &final_end {
            if &s == end {
                break;
            }
        }
        if t0.elapsed() > Duration::from_secs(seconds + LIMIT_S) {
            bail!(
                "the sla service did not catch up within {LIMIT_S} s of the end of production: \
                 stored next offsets {s:?}, end offsets {final_end:?}"
            );
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("the producer thread panicked"))??;
    stop.store(true, Ordering::Relaxed);
    service
        .join()
        .map_err(|_| anyhow::anyhow!("the service thread panicked"))?
        .context("the sla service failed")?;

    let end = final_end.unwrap_or_default();
    let produced = produced.lock().expect("sampler lock").clone();
    let born = first_passing(&produced, &start, &end);
    let seen = first_passing(&visible, &start, &end);
    let mut lat: Vec<f64> = born
        .iter()
        .zip(&seen)
        .filter_map(|(b, s)| Some(s.as_ref()?.saturating_sub((*b)?).as_secs_f64() * 1e3))
        .collect();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(KafkaBenchReport {
        backlog_records: raw.records,
        raw_consume_per_sec: raw_rate,
        service_per_sec: service_rate,
        ratio: service_rate / raw_rate,
        service_seconds: summary.elapsed.as_secs_f64(),
        rate,
        fresh_records: lat.len() as u64,
        commit_interval_ms: commit_interval.as_millis() as u64,
        freshness_p50_ms: q(0.5),
        freshness_p99_ms: q(0.99),
        freshness_max_ms: lat.last().copied().unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_passes_at_the_first_sample_beyond_it() {
        let ms = Duration::from_millis;
        let series: Series = vec![
            (ms(10), BTreeMap::from([(0, 1)])),
            (ms(20), BTreeMap::from([(0, 3)])),
            (ms(30), BTreeMap::from([(0, 4)])),
        ];
        let from = BTreeMap::from([(0, 0)]);
        let to = BTreeMap::from([(0, 5)]);
        assert_eq!(
            first_passing(&series, &from, &to),
            vec![Some(ms(10)), Some(ms(20)), Some(ms(20)), Some(ms(30)), None]
        );
    }
}
