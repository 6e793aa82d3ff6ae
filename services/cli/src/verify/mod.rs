//! `gigstream verify`: recomputes each service's tables from the log and compares them with
//! the stored ones, row by row and value by value.
//!
//! The stored task checkpoints say which prefix of each input partition the stored tables
//! reflect (`next_offset`). Verify reads those heads and the tables as one consistent snapshot,
//! then feeds a fresh [`Processor`] exactly the records of each partition from offset 0 up to
//! (excluding) its stored `next_offset`, never beyond, so the result is exact even while the
//! log keeps growing. The rendered tables (the projection's, plus the runtime's
//! `dead_letters` and `positions`) are then diffed by key against the stored rows.
//!
//! Sources: the embedded log in `<data-dir>/log`, or Kafka when `GIGSTREAM_KAFKA_BROKERS` is set.
//! Stores: the Parquet tables in `<data-dir>/tables`, or ClickHouse when
//! `GIGSTREAM_CLICKHOUSE_URL` is set.

pub mod diff;
pub mod store;

use crate::services::Service;
use anyhow::{bail, Context, Result};
use gigstream_avro::Codec;
use gigstream_billing::Billing;
use gigstream_core::table::TableDef;
use gigstream_core::{Projection, RefData, Topic};
use gigstream_host::Backends;
use gigstream_kafka::KafkaConfig;
use gigstream_log::{Batch, Log};
use gigstream_market::Market;
use gigstream_runtime::{Origin, Processor, RecordRef, StoredTask};
use gigstream_sla::Sla;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use diff::{diff_rows, Mismatch, TableDiff};
pub use store::{Snapshot, TableStore};

/// Where the records are read from.
#[derive(Debug, Clone)]
pub enum LogSource {
    /// The embedded log directory (`<data-dir>/log`).
    Embedded(PathBuf),
    /// Kafka.
    Kafka(KafkaConfig),
}

impl LogSource {
    pub fn describe(&self) -> String {
        match self {
            LogSource::Embedded(dir) => format!("embedded log in {}", dir.display()),
            LogSource::Kafka(k) => format!("Kafka at {}", k.brokers),
        }
    }
}

/// The outcome of verifying one service.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub service: &'static str,
    /// Every task and the offset the stored tables reflect: `(topic, partition, next_offset)`.
    pub tasks: Vec<(Topic, u32, u64)>,
    /// Records recomputed from the log.
    pub records: u64,
    pub tables: Vec<TableDiff>,
    /// Observations that are not differences but explain them (a commit in flight).
    pub notes: Vec<String>,
    /// Time to read the stored tables.
    pub read_time: Duration,
    /// Time to recompute from the log (read, decode, fold, render).
    pub recompute_time: Duration,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.tables.iter().all(TableDiff::is_clean)
    }

    /// Differences over every table.
    pub fn mismatches(&self) -> usize {
        self.tables.iter().map(TableDiff::mismatches).sum()
    }

    /// The report for people: one line per table, the first differences under each table that
    /// has some.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} records in {} partitions recomputed in {:.1}s (stored tables read in {:.1}s)",
            self.service,
            self.records,
            self.tasks.len(),
            self.recompute_time.as_secs_f64(),
            self.read_time.as_secs_f64()
        );
        for t in &self.tables {
            if t.is_clean() {
                let _ = writeln!(s, "  {}: {} rows, OK", t.table, t.expected_rows);
                continue;
            }
            let _ = writeln!(
                s,
                "  {}: DIFFERS: {} rows recomputed, {} stored; {} missing in store, {} extra in store, {} rows with different values",
                t.table, t.expected_rows, t.stored_rows, t.missing, t.extra, t.differing_rows
            );
            for m in &t.samples {
                let _ = writeln!(s, "    {m}");
            }
            if t.truncated {
                let _ = writeln!(s, "    ... and more (raise --max-diffs to see them)");
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        s
    }
}

/// Verifies projection `P`: snapshot of the stored heads and tables, recomputation of exactly
/// those prefixes from `log`, diff by key (at most `max_diffs` differences kept per table).
///
/// Errors when the service has nothing stored, or when the log does not hold the records the
/// stored tables reflect.
pub fn verify_service<P: Projection>(
    codec: &Codec,
    refdata: &Arc<RefData>,
    log: &LogSource,
    store: &mut TableStore,
    max_diffs: usize,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let mut defs: Vec<&'static TableDef> = P::table_defs().to_vec();
    defs.push(&gigstream_runtime::DEAD_LETTERS);
    defs.push(&gigstream_runtime::POSITIONS);
    let Some(snap) = store::snapshot(store, P::NAME, &defs)? else {
        bail!(
            "{} has no stored checkpoint in the {}: nothing to verify yet; run it first (`gigstream run {}` on the embedded log, or the {} service with the same settings)",
            P::NAME,
            store.describe(),
            P::NAME,
            P::NAME
        );
    };
    let read_time = started.elapsed();
    let heads = snap.heads.clone();

    let started = Instant::now();
    let (proc, records) = recompute::<P>(codec, refdata, log, &heads)?;
    let computed = proc.tables();
    let recompute_time = started.elapsed();

    let mut tables = Vec::with_capacity(defs.len());
    for (def, stored) in defs.iter().zip(&snap.tables) {
        let expected = computed
            .iter()
            .find(|t| t.def.name == def.name)
            .with_context(|| format!("{} rendered no table {}", P::NAME, def.name))?;
        let d = diff_rows(def, &expected.rows, stored, max_diffs).map_err(anyhow::Error::msg)?;
        tables.push(d);
    }
    let mut notes = Vec::new();
    let version = proc.version();
    if snap.max_version > version {
        notes.push(format!(
            "stored rows carry version {} but the checkpoints only version {version}: a commit was in progress or interrupted before its checkpoint (it is completed by the service's next commit); verify again when the service is idle",
            snap.max_version
        ));
    }
    if snap.heads.iter().any(|h| h.epoch > 0 && h.next_offset == 0) {
        notes.push(
            "a replay was requested and has not run yet (replay markers at offset 0): the stored rows are the previous epoch's until the service runs".to_string(),
        );
    }
    Ok(VerifyReport {
        service: P::NAME,
        tasks: heads
            .iter()
            .map(|h| (h.topic, h.partition, h.next_offset))
            .collect(),
        records,
        tables,
        notes,
        read_time,
        recompute_time,
    })
}

/// A fresh processor that owns every stored task (in the task's epoch) and has processed
/// exactly the records before each task's stored next offset.
fn recompute<P: Projection>(
    codec: &Codec,
    refdata: &Arc<RefData>,
    log: &LogSource,
    heads: &[StoredTask],
) -> Result<(Processor<P>, u64)> {
    let mut proc: Processor<P> = Processor::new(codec.clone(), refdata.clone());
    for h in heads {
        // An empty checkpoint is a fresh task of that epoch: what the service started from.
        let marker = StoredTask {
            topic: h.topic,
            partition: h.partition,
            epoch: h.epoch,
            next_offset: 0,
            bytes: Vec::new(),
        };
        proc.adopt((h.topic, h.partition), Some(&marker))?;
    }
    let parts: Vec<(Topic, u32, u64)> = heads
        .iter()
        .map(|h| (h.topic, h.partition, h.next_offset))
        .collect();
    let mut records = 0u64;
    let mut unavailable = None;
    match log {
        LogSource::Embedded(dir) => {
            let log = Log::open(dir)
                .with_context(|| format!("cannot open the embedded log in {}", dir.display()))?;
            for &(topic, partition, end) in &parts {
                records += read_embedded(&log, topic, partition, end, &mut |r| {
                    process_or_wait(&mut proc, r, &mut unavailable);
                })?;
            }
        }
        LogSource::Kafka(config) => {
            records = gigstream_kafka::read_partitions_until(config, &parts, &mut |r| {
                process_or_wait(&mut proc, r, &mut unavailable);
            })
            .context("cannot read the stored prefixes from Kafka")?;
        }
    }
    if let Some(e) = unavailable {
        bail!("{e}; verify gave up waiting for the schema registry");
    }
    Ok((proc, records))
}

/// How long verify waits for the schema registry (per record that waits) before it gives up.
const REGISTRY_PATIENCE: Duration = Duration::from_secs(60);

/// Hands `r` to `proc`; while its writer schema cannot be asked for (the schema registry is
/// unreachable: `Outcome::Retry`), tries again with backoff for up to [`REGISTRY_PATIENCE`],
/// then records the error in `unavailable` (every later record is then left alone: the
/// recomputation is incomplete and verify fails with it).
fn process_or_wait<P: Projection>(
    proc: &mut Processor<P>,
    r: RecordRef<'_>,
    unavailable: &mut Option<String>,
) {
    if unavailable.is_some() {
        return;
    }
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    while proc.process(r) == gigstream_runtime::Outcome::Retry {
        let error = proc
            .retry_error()
            .unwrap_or("the schema registry is unavailable");
        if started.elapsed() + delay > REGISTRY_PATIENCE {
            *unavailable = Some(error.to_string());
            return;
        }
        tracing::warn!(error, retry_in = ?delay, "schema registry unavailable; retrying");
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Hands `f` the records of one embedded partition from offset 0 to `end` (excluded).
fn read_embedded(
    log: &Log,
    topic: Topic,
    partition: u32,
    end: u64,
    f: &mut dyn FnMut(RecordRef<'_>),
) -> Result<u64> {
    if end == 0 {
        return Ok(0);
    }
    let name = topic.name();
    let have = log
        .end_offset(name, partition)
        .with_context(|| format!("the embedded log has no partition {name}/{partition}, but the stored tables reflect {end} of its records: is --data-dir right?"))?;
    if have < end {
        bail!(
            "the embedded log holds {have} records of {name}/{partition} but the stored tables reflect {end}: the log was replaced; remove the tables directory and run the services again"
        );
    }
    let mut reader = log.reader(name, partition, 0)?;
    let mut batch = Batch::default();
    let mut n = 0u64;
    'read: loop {
        reader.read(&mut batch, 1 << 20)?;
        if batch.is_empty() {
            bail!(
                "the embedded log ended at offset {} of {name}/{partition} before offset {end}",
                reader.position()
            );
        }
        for r in batch.iter() {
            if r.offset >= end {
                break 'read;
            }
            f(RecordRef {
                topic,
                partition,
                offset: r.offset,
                timestamp_ms: r.timestamp_ms,
                key: r.key,
                value: r.value,
                origin: Origin::from_headers(|name| r.headers.get(name)),
            });
            n += 1;
            if r.offset + 1 >= end {
                break 'read;
            }
        }
    }
    Ok(n)
}

/// Verifies each of `services` in turn.
pub fn verify_services(
    codec: &Codec,
    refdata: &Arc<RefData>,
    log: &LogSource,
    store: &mut TableStore,
    services: &[Service],
    max_diffs: usize,
) -> Result<Vec<VerifyReport>> {
    services
        .iter()
        .map(|svc| match svc {
            Service::Billing => verify_service::<Billing>(codec, refdata, log, store, max_diffs),
            Service::Sla => verify_service::<Sla>(codec, refdata, log, store, max_diffs),
            Service::Market => verify_service::<Market>(codec, refdata, log, store, max_diffs),
        })
        .collect()
}

/// Some tables differ from what the log gives (exit status 1); the report was printed.
#[derive(Debug)]
pub struct Differences {
    pub tables: usize,
    pub mismatches: usize,
}

impl std::fmt::Display for Differences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tables differ from the log ({} differences)",
            self.tables, self.mismatches
        )
    }
}

impl std::error::Error for Differences {}

/// Verify could not run (exit status 2): nothing stored, log or store unreachable.
#[derive(Debug)]
pub struct SetupFailed(pub anyhow::Error);

impl std::fmt::Display for SetupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "verify cannot run: {:#}", self.0)
    }
}

impl std::error::Error for SetupFailed {}

/// The exit status `gigstream` uses for an error: 1 for differences, 2 when verify could not
/// run; `None` for errors of other commands.
pub fn exit_status(e: &anyhow::Error) -> Option<u8> {
    if e.is::<Differences>() {
        Some(1)
    } else if e.is::<SetupFailed>() {
        Some(2)
    } else {
        None
    }
}

/// The `gigstream verify` command: the log from Kafka when `opts` has it (else the embedded log
/// of its data directory), the store from ClickHouse when `opts` has it (else the Parquet
/// tables); prints every report and a summary. Errors with [`Differences`] or [`SetupFailed`].
pub fn run_cli(
    codec: &Codec,
    refdata: &Arc<RefData>,
    opts: &Backends,
    services: &[Service],
    max_diffs: usize,
) -> Result<()> {
    let setup = |e: anyhow::Error| anyhow::Error::new(SetupFailed(e));
    let log = match &opts.kafka {
        Some(k) => LogSource::Kafka(k.clone()),
        None => LogSource::Embedded(opts.data_dir.log()),
    };
    let tables_dir = opts.data_dir.tables();
    let mut store = match opts.clickhouse.clone() {
        Some(c) => TableStore::ClickHouse(Box::new(
            gigstream_clickhouse::ClickHouseSink::connect(c)
                .context("cannot connect to ClickHouse")
                .map_err(setup)?,
        )),
        None => TableStore::Parquet(gigstream_parquet::ParquetStore::new(tables_dir)),
    };
    println!(
        "verifying {} against the {}",
        store.describe(),
        log.describe()
    );
    let reports =
        verify_services(codec, refdata, &log, &mut store, services, max_diffs).map_err(setup)?;
    for r in &reports {
        print!("{}", r.render());
    }
    let differing: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.tables
                .iter()
                .filter(|t| !t.is_clean())
                .map(|t| t.table.to_string())
        })
        .collect();
    let tables: usize = reports.iter().map(|r| r.tables.len()).sum();
    if differing.is_empty() {
        println!(
            "verify: {tables} tables of {} services match the log",
            reports.len()
        );
        return Ok(());
    }
    let mismatches = reports.iter().map(VerifyReport::mismatches).sum();
    println!(
        "verify: {} of {tables} tables differ from the log ({mismatches} differences): {}",
        differing.len(),
        differing.join(", ")
    );
    Err(Differences {
        tables: differing.len(),
        mismatches,
    }
    .into())
}
