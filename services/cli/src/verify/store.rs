//! The stored side of `verify`: a consistent snapshot of one service's task heads and tables,
//! from the embedded Parquet store or from ClickHouse.

use anyhow::{Context, Result};
use gigstream_clickhouse::ClickHouseSink;
use gigstream_core::table::{TableDef, Value};
use gigstream_parquet::ParquetStore;
use gigstream_runtime::{Sink, StoredTask, DEAD_LETTERS, POSITIONS};
use std::time::Duration;

/// Where the tables under verification are stored.
pub enum TableStore {
    /// The embedded store under `<data-dir>/tables`.
    Parquet(ParquetStore),
    /// ClickHouse (`GIGSTREAM_CLICKHOUSE_URL`); boxed, it is much larger than the other.
    ClickHouse(Box<ClickHouseSink>),
}

impl TableStore {
    pub fn describe(&self) -> String {
        match self {
            TableStore::Parquet(s) => format!("Parquet tables in {}", s.root().display()),
            TableStore::ClickHouse(s) => format!(
                "ClickHouse {} database {}",
                s.connection().config().url,
                s.connection().config().database
            ),
        }
    }
}

/// One service's stored state, read so that the tables reflect exactly the heads.
pub struct Snapshot {
    /// The stored checkpoint of every task: `(topic, partition, epoch, next_offset)`.
    pub heads: Vec<StoredTask>,
    /// Rows of each table, in the order of the definitions asked for.
    pub tables: Vec<Vec<Vec<Value>>>,
    /// ClickHouse: the highest `_version` among the rows read (0 for Parquet).
    pub max_version: u64,
}

/// Whether `def` is written by every service (rows told apart by a `service` column).
pub fn is_shared(def: &TableDef) -> bool {
    def.name == DEAD_LETTERS.name || def.name == POSITIONS.name
}

const ATTEMPTS: u32 = 5;

/// Reads the heads and every table of `defs` for `service`. `Ok(None)` when the service has
/// no stored checkpoint. A snapshot overlapping a commit of a running service is read again.
pub fn snapshot(
    store: &mut TableStore,
    service: &str,
    defs: &[&'static TableDef],
) -> Result<Option<Snapshot>> {
    let mut last_err = None;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500));
        }
        let got = match store {
            TableStore::Parquet(s) => parquet_snapshot(s, service, defs),
            TableStore::ClickHouse(s) => clickhouse_snapshot(s, service, defs),
        };
        match got {
            Ok(Attempt::Done(snap)) => return Ok(snap),
            Ok(Attempt::Moved) => {
                tracing::info!(
                    service,
                    "a commit happened while reading the stored tables; reading again"
                );
            }
            Err(e) => {
                tracing::info!(service, error = %format!("{e:#}"), "reading the stored tables failed; trying again");
                last_err = Some(e);
            }
        }
    }
    match last_err {
        Some(e) => Err(e.context(format!("cannot read the stored tables of {service}"))),
        None => anyhow::bail!(
            "the stored tables of {service} changed during each of {ATTEMPTS} reads: the service is committing continuously; stop it (or wait for it to catch up) and verify again"
        ),
    }
}

enum Attempt {
    Done(Option<Snapshot>),
    /// A commit happened while reading: the tables may not match the heads.
    Moved,
}

/// The committed generation is read whole: its checkpoint gives the heads, its files the
/// tables; a generation replaced meanwhile (its files removed) is read again.
fn parquet_snapshot(
    store: &mut ParquetStore,
    service: &str,
    defs: &[&'static TableDef],
) -> Result<Attempt> {
    let Some(snap) = store.snapshot(service)? else {
        return Ok(Attempt::Done(None));
    };
    let heads = Sink::task_heads(store, service)?;
    let moved = |store: &ParquetStore| -> Result<bool> {
        Ok(store.generation(service)? != Some(snap.generation))
    };
    let mut tables = Vec::with_capacity(defs.len());
    for def in defs {
        match snap.read(def) {
            Ok(mut rows) => {
                if let Some(i) = def.column_index("service").filter(|_| is_shared(def)) {
                    rows.retain(|r| matches!(r.get(i), Some(Value::Str(s)) if s == service));
                }
                tables.push(rows);
            }
            Err(_) if moved(store)? => return Ok(Attempt::Moved),
            Err(e) => return Err(e.into()),
        }
    }
    if moved(store)? {
        return Ok(Attempt::Moved);
    }
    Ok(Attempt::Done(Some(Snapshot {
        heads,
        tables,
        max_version: 0,
    })))
}

/// The heads are read before and after the tables; when they differ a service committed in
/// between and the read is repeated.
fn clickhouse_snapshot(
    sink: &mut ClickHouseSink,
    service: &str,
    defs: &[&'static TableDef],
) -> Result<Attempt> {
    let heads = sink
        .task_heads(service)
        .context("cannot read the stored task checkpoints")?;
    if heads.is_empty() {
        return Ok(Attempt::Done(None));
    }
    let mut tables = Vec::with_capacity(defs.len());
    let mut max_version = 0;
    for def in defs {
        let filter = is_shared(def).then_some(service);
        let rows = gigstream_clickhouse::read::read_current(sink.connection(), def, filter)?;
        let mut out = Vec::with_capacity(rows.len());
        for (row, version) in rows {
            max_version = max_version.max(version);
            out.push(row);
        }
        tables.push(out);
    }
    if sink.task_heads(service)? != heads {
        return Ok(Attempt::Moved);
    }
    Ok(Attempt::Done(Some(Snapshot {
        heads,
        tables,
        max_version,
    })))
}
