//! [`ClickHouseSink`]: versioned upserts of every table row, then the task checkpoint rows.

use crate::client::{ClickHouseConfig, ClickHouseError, Connection};
use crate::ddl::{quote_ident, quote_str, CHECKPOINTS_TABLE, CHUNKS_TABLE, VERSION_COLUMN};
use crate::migrations::{apply_migrations, check_migrations, now_secs, service_filter};
use crate::rowbinary::{put_bytes, put_row};
use gigstream_core::table::{ColumnType, TableDef, Value};
use gigstream_core::Topic;
use gigstream_runtime::chunks;
use gigstream_runtime::{Commit, RowGroup, Sink, SinkError, StoredTask};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Commits service tables into ClickHouse `ReplacingMergeTree(_version)` tables, and task
/// checkpoints into `gigstream_task_checkpoints`.
///
/// See the crate docs for why a crash in the middle of a commit is safe.
#[derive(Debug)]
pub struct ClickHouseSink {
    conn: Connection,
    /// Per `(service, topic, partition)`: the chunks of the task's last checkpoint this sink
    /// wrote or loaded. A new checkpoint writes only its other chunks (these are referenced by
    /// the task's current row, so the collection of unreferenced chunks keeps them).
    chunks_of: std::sync::Mutex<HashMap<(String, Topic, u32), HashSet<u128>>>,
    /// Commits since the last collection of unreferenced chunks.
    since_collect: u32,
}

/// Collect unreferenced chunks every this many commits...
const COLLECT_EVERY: u32 = 600;
/// ...those written at least this long ago (a chunk written for a checkpoint whose row is not
/// written yet must survive).
const COLLECT_AFTER_SECS: u32 = 3_600;

impl ClickHouseSink {
    /// Connects, creates the database if missing and applies missing migrations.
    pub fn connect(config: ClickHouseConfig) -> Result<ClickHouseSink, ClickHouseError> {
        let conn = Connection::new(config.clone(), true)?;
        if config.apply_migrations {
            let admin = Connection::new(config, false)?;
            apply_migrations(&admin, &conn)?;
        } else {
            check_migrations(&conn)?;
        }
        Ok(ClickHouseSink {
            conn,
            chunks_of: std::sync::Mutex::new(HashMap::new()),
            since_collect: 0,
        })
    }

    /// The connection (to the configured database), for queries.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The first half of a commit: the upserts of every group at the group's version, in
    /// batches of the configured size, then every delete (see [`ClickHouseSink::delete_keys`]),
    /// without the checkpoints. [`Sink::commit`] is this plus
    /// [`ClickHouseSink::write_tasks`]; alone it is what a crash mid-commit leaves behind.
    pub fn write_groups(&mut self, groups: &[RowGroup]) -> Result<(), ClickHouseError> {
        let batch = self.conn.config().batch_bytes.max(1);
        let mut deletes: BTreeMap<&'static str, (&'static TableDef, Vec<&Vec<Value>>)> =
            BTreeMap::new();
        for g in groups {
            for t in &g.tables {
                let def = t.def();
                if !t.deletes.is_empty() {
                    deletes
                        .entry(def.name)
                        .or_insert((def, Vec::new()))
                        .1
                        .extend(&t.deletes);
                }
                if t.upserts.num_rows() == 0 {
                    continue;
                }
                let mut columns: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
                columns.push(VERSION_COLUMN);
                let mut buf = Vec::new();
                for row in &t.upserts.to_rows().rows {
                    put_row(&mut buf, def, row, g.version)?;
                    if buf.len() >= batch {
                        self.conn
                            .insert_rowbinary(def.name, &columns, std::mem::take(&mut buf))
                            .map_err(|e| transient_if_ours(def.name, e))?;
                    }
                }
                if !buf.is_empty() {
                    self.conn
                        .insert_rowbinary(def.name, &columns, buf)
                        .map_err(|e| transient_if_ours(def.name, e))?;
                }
            }
        }
        for (def, keys) in deletes.values() {
            self.delete_keys(def, keys)?;
        }
        Ok(())
    }

    /// Removes every row (every version) of `keys` from `def`'s table, and waits until it is
    /// done: an `ALTER TABLE ... DELETE` mutation (ClickHouse 18.16 and current alike), so
    /// that `FINAL` reads, the dashboards and ad-hoc SQL never see the removed row, with no
    /// filter to add. A mutation rewrites the parts holding those keys, which is costly, but
    /// rows disappear rarely (late data undoing a violation); a mutation only touches the
    /// parts that exist when it starts, so a row of the same key written later stays.
    pub fn delete_keys(
        &mut self,
        def: &TableDef,
        keys: &[&Vec<Value>],
    ) -> Result<(), ClickHouseError> {
        // Bounded statements: ClickHouse limits a query's size (max_query_size, 256 KiB).
        for chunk in keys.chunks(500) {
            let tuples: Vec<String> = chunk
                .iter()
                .map(|k| key_literal(def, k))
                .collect::<Result<_, _>>()?;
            let columns: Vec<String> = def.key.iter().map(|k| quote_ident(k)).collect();
            let sql = format!(
                "ALTER TABLE {} DELETE WHERE ({}) IN ({})",
                quote_ident(def.name),
                columns.join(", "),
                tuples.join(", ")
            );
            self.conn
                .execute(&format!("deleting rows of {}", def.name), &sql)?;
        }
        self.wait_mutations(def.name)
    }

    /// Waits until no mutation of `table` is pending (they run in the background).
    fn wait_mutations(&self, table: &str) -> Result<(), ClickHouseError> {
        let doing = format!("waiting for the deletes of {table} to be applied");
        let sql = format!(
            "SELECT count() FROM system.mutations WHERE database = currentDatabase() \
             AND table = {} AND is_done = 0",
            quote_str(table)
        );
        let timeout = self.conn.config().request_timeout;
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            let pending = self.conn.query_tsv(&doing, &sql)?;
            if pending.trim() == "0" {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(ClickHouseError::Timeout {
                    url: self.conn.config().url.clone(),
                    doing,
                    timeout,
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(200));
        }
    }

    /// The second half of a commit: the task checkpoint rows, which make the commit the one a
    /// restart (or the next owner of a partition) resumes from.
    pub fn write_tasks(
        &mut self,
        service: &str,
        tasks: &[&StoredTask],
    ) -> Result<(), ClickHouseError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let now = now_secs();
        // The chunks first, then the rows naming them: a row is never visible before its chunks.
        let mut chunk_rows = Vec::new();
        let mut written_chunks = 0usize;
        let mut manifests = Vec::with_capacity(tasks.len());
        let mut known_after = Vec::with_capacity(tasks.len());
        for t in tasks {
            if t.bytes.is_empty() {
                // A replay marker: nothing to chunk.
                manifests.push(Vec::new());
                known_after.push(HashSet::new());
                continue;
            }
            let key = (service.to_string(), t.topic, t.partition);
            let chunks_of = self.chunks_of.lock().unwrap_or_else(|p| p.into_inner());
            let known = chunks_of.get(&key);
            let parts = chunks::split(&t.bytes);
            for (h, range) in &parts {
                if known.is_none_or(|k| !k.contains(h)) {
                    written_chunks += 1;
                    put_bytes(&mut chunk_rows, service.as_bytes());
                    put_bytes(&mut chunk_rows, chunks::hex(*h).as_bytes());
                    put_bytes(&mut chunk_rows, &t.bytes[range.clone()]);
                    chunk_rows.extend_from_slice(&now.to_le_bytes());
                }
            }
            drop(chunks_of);
            let hashes: Vec<u128> = parts.iter().map(|(h, _)| *h).collect();
            manifests.push(chunks::manifest(&hashes));
            known_after.push(hashes.into_iter().collect());
        }
        tracing::debug!(
            service,
            tasks = tasks.len(),
            chunk_bytes = chunk_rows.len(),
            chunk_rows = written_chunks,
            checkpoint_chunks = known_after.iter().map(HashSet::len).sum::<usize>(),
            "checkpoint chunks written"
        );
        if !chunk_rows.is_empty() {
            self.conn
                .insert_rowbinary(
                    CHUNKS_TABLE,
                    &["service", "hash", "bytes", "written_at"],
                    chunk_rows,
                )
                .map_err(|e| transient_if_ours(CHUNKS_TABLE, e))?;
        }
        let mut rows = Vec::new();
        for (t, manifest) in tasks.iter().zip(&manifests) {
            put_bytes(&mut rows, service.as_bytes());
            put_bytes(&mut rows, t.topic.name().as_bytes());
            rows.extend_from_slice(&t.partition.to_le_bytes());
            rows.extend_from_slice(&t.epoch.to_le_bytes());
            rows.extend_from_slice(&t.next_offset.to_le_bytes());
            rows.extend_from_slice(&t.version().to_le_bytes());
            put_bytes(&mut rows, manifest);
            rows.extend_from_slice(&now.to_le_bytes());
        }
        self.conn
            .insert_rowbinary(
                CHECKPOINTS_TABLE,
                &[
                    "service",
                    "topic",
                    "partition",
                    "epoch",
                    "next_offset",
                    "version",
                    "checkpoint",
                    "committed_at",
                ],
                rows,
            )
            .map_err(|e| transient_if_ours(CHECKPOINTS_TABLE, e))?;
        // Known only once the rows naming them are stored.
        let mut chunks_of = self.chunks_of.lock().unwrap_or_else(|p| p.into_inner());
        for (t, known) in tasks.iter().zip(known_after) {
            chunks_of.insert((service.to_string(), t.topic, t.partition), known);
        }
        Ok(())
    }

    /// The latest checkpoint of every task of `service` (of `only` when given); with
    /// `with_state` false the checkpoint bytes are left out.
    pub fn stored_tasks(
        &self,
        service: &str,
        only: Option<&[(Topic, u32)]>,
        with_state: bool,
    ) -> Result<Vec<StoredTask>, ClickHouseError> {
        let doing = format!("loading the task checkpoints of {service}");
        let mut filter = service_filter(service);
        if let Some(only) = only {
            if only.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = only
                .iter()
                .map(|(t, p)| format!("({}, {p})", quote_str(t.name())))
                .collect();
            filter.push_str(&format!(" AND (topic, partition) IN ({})", list.join(", ")));
        }
        // argMax, not FINAL: exact whether or not the background merge has run yet.
        let state = if with_state {
            "hex(argMax(checkpoint, version))"
        } else {
            "''"
        };
        let out = self.conn.query_tsv(
            &doing,
            &format!(
                "SELECT topic, partition, argMax(epoch, version), argMax(next_offset, version), {state} FROM {} WHERE {filter} GROUP BY topic, partition ORDER BY topic, partition",
                quote_ident(CHECKPOINTS_TABLE),
            ),
        )?;
        let bad = |message: String| ClickHouseError::BadAnswer {
            doing: doing.clone(),
            message,
        };
        let mut tasks = Vec::new();
        for line in out.lines().filter(|l| !l.is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 5 {
                return Err(bad(format!("expected 5 fields, got {line:.80?}")));
            }
            let topic =
                Topic::from_name(f[0]).ok_or_else(|| bad(format!("unknown topic {:?}", f[0])))?;
            let num = |s: &str| s.parse::<u64>().map_err(|e| bad(format!("{s:?}: {e}")));
            tasks.push(StoredTask {
                topic,
                partition: u32::try_from(num(f[1])?).map_err(|e| bad(e.to_string()))?,
                epoch: u32::try_from(num(f[2])?).map_err(|e| bad(e.to_string()))?,
                next_offset: num(f[3])?,
                bytes: unhex(f[4]).ok_or_else(|| bad("checkpoint is not hex".to_string()))?,
            });
        }
        if with_state {
            self.assemble(service, &mut tasks)?;
        }
        Ok(tasks)
    }

    /// Replaces each manifest in `tasks` by the checkpoint its chunks make up (checkpoints
    /// stored whole, by earlier versions, stay as they are).
    fn assemble(&self, service: &str, tasks: &mut [StoredTask]) -> Result<(), ClickHouseError> {
        let manifests: Vec<Option<Vec<u128>>> = tasks
            .iter()
            .map(|t| chunks::parse_manifest(&t.bytes))
            .collect();
        let wanted: BTreeSet<u128> = manifests.iter().flatten().flatten().copied().collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let doing = format!("loading the checkpoint chunks of {service}");
        let mut found: HashMap<u128, Vec<u8>> = HashMap::with_capacity(wanted.len());
        let list: Vec<u128> = wanted.into_iter().collect();
        for part in list.chunks(2_000) {
            let names: Vec<String> = part.iter().map(|h| quote_str(&chunks::hex(*h))).collect();
            let out = self.conn.query_tsv(
                &doing,
                &format!(
                    "SELECT hash, hex(any(bytes)) FROM {} WHERE {} AND hash IN ({}) GROUP BY hash",
                    quote_ident(CHUNKS_TABLE),
                    service_filter(service),
                    names.join(", ")
                ),
            )?;
            for line in out.lines().filter(|l| !l.is_empty()) {
                let (name, bytes) =
                    line.split_once('\t')
                        .ok_or_else(|| ClickHouseError::BadAnswer {
                            doing: doing.clone(),
                            message: format!("unexpected line {line:?}"),
                        })?;
                let h = u128::from_str_radix(name, 16).map_err(|e| ClickHouseError::BadAnswer {
                    doing: doing.clone(),
                    message: format!("chunk name {name:?}: {e}"),
                })?;
                let b = unhex(bytes).ok_or_else(|| ClickHouseError::BadAnswer {
                    doing: doing.clone(),
                    message: "chunk bytes are not hex".into(),
                })?;
                found.insert(h, b);
            }
        }
        for (t, m) in tasks.iter_mut().zip(manifests) {
            let Some(hashes) = m else { continue };
            t.bytes = chunks::assemble(&hashes, |h| found.get(&h).cloned()).map_err(|message| {
                ClickHouseError::BadAnswer {
                    doing: format!(
                        "loading the checkpoint of {service} {}/{}",
                        t.topic, t.partition
                    ),
                    message,
                }
            })?;
            self.chunks_of
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    (service.to_string(), t.topic, t.partition),
                    hashes.into_iter().collect(),
                );
        }
        Ok(())
    }

    /// Deletes the chunks of `service` that no task's latest checkpoint names and that were
    /// written over an hour ago (a mutation; run now and then, not at every commit).
    pub fn collect_chunks(&mut self, service: &str) -> Result<(), ClickHouseError> {
        let doing = format!("collecting unreferenced checkpoint chunks of {service}");
        let live = self.conn.query_tsv(
            &doing,
            &format!(
                "SELECT hex(argMax(checkpoint, version)) FROM {} WHERE {} GROUP BY topic, partition",
                quote_ident(CHECKPOINTS_TABLE),
                service_filter(service)
            ),
        )?;
        let mut names: Vec<String> = Vec::new();
        for line in live.lines().filter(|l| !l.is_empty()) {
            let Some(bytes) = unhex(line.trim()) else {
                return Err(ClickHouseError::BadAnswer {
                    doing,
                    message: "checkpoint is not hex".into(),
                });
            };
            if let Some(hashes) = chunks::parse_manifest(&bytes) {
                names.extend(hashes.iter().map(|h| quote_str(&chunks::hex(*h))));
            }
        }
        let keep = if names.is_empty() {
            String::new()
        } else {
            format!(" AND hash NOT IN ({})", names.join(", "))
        };
        self.conn.execute(
            &doing,
            &format!(
                "ALTER TABLE {} DELETE WHERE {} AND written_at < now() - {COLLECT_AFTER_SECS}{keep}",
                quote_ident(CHUNKS_TABLE),
                service_filter(service)
            ),
        )
    }

    /// Requests a full replay of `service`: a replay marker above every stored checkpoint for
    /// each of its tasks, so the next start rebuilds every table from offset 0 in a new epoch
    /// whose rows outrank all earlier ones. Returns the new epoch.
    pub fn request_replay(&mut self, service: &str) -> Result<u32, ClickHouseError> {
        let tasks = self.stored_tasks(service, None, false)?;
        let epoch = tasks.iter().map(|t| t.epoch).max().unwrap_or(0) + 1;
        let markers: Vec<StoredTask> = tasks
            .iter()
            .map(|t| StoredTask {
                topic: t.topic,
                partition: t.partition,
                epoch,
                next_offset: 0,
                bytes: Vec::new(),
            })
            .collect();
        self.write_tasks(service, &markers.iter().collect::<Vec<_>>())?;
        Ok(epoch)
    }
}

/// `e`, retryable when it says that `table`, one the migrations create, is missing (see
/// [`ClickHouseError::missing_table_is_transient`]).
fn transient_if_ours(table: &str, e: ClickHouseError) -> ClickHouseError {
    let ours = crate::migrations::MIGRATIONS.iter().any(|m| {
        m.sql.contains(&format!(
            "CREATE TABLE IF NOT EXISTS {}",
            quote_ident(table)
        ))
    });
    if ours {
        e.missing_table_is_transient()
    } else {
        e
    }
}

/// A key as a ClickHouse tuple literal: `('svc', toDateTime(1700000000))`.
fn key_literal(def: &TableDef, key: &[Value]) -> Result<String, ClickHouseError> {
    let mut parts = Vec::with_capacity(key.len());
    for (name, v) in def.key.iter().zip(key) {
        let ty = def
            .columns
            .iter()
            .find(|c| c.name == *name)
            .map(|c| c.ty)
            .unwrap_or(ColumnType::String);
        let bad = || ClickHouseError::BadAnswer {
            doing: format!("deleting rows of {}", def.name),
            message: format!("key column {name} holds {v:?}, which is not a {ty:?}"),
        };
        parts.push(match (ty, v) {
            (ColumnType::String, Value::Str(s)) => quote_str(s),
            (ColumnType::UInt8, Value::U8(n)) => n.to_string(),
            (ColumnType::UInt32, Value::U32(n)) => n.to_string(),
            (ColumnType::UInt64, Value::U64(n)) => n.to_string(),
            (ColumnType::Int64, Value::I64(n)) => n.to_string(),
            (ColumnType::Date, Value::Date(d)) => {
                let day =
                    gigstream_core::time::date_of(i64::from(*d) * gigstream_core::time::DAY_MS);
                format!("toDate('{}')", day.format("%Y-%m-%d"))
            }
            (ColumnType::DateTime, Value::DateTime(s)) => format!("toDateTime({s})"),
            (ColumnType::Money | ColumnType::Quantity, Value::Dec(d)) => {
                let scale = ty.decimal_scale().unwrap_or(0);
                format!("toDecimal64('{d}', {scale})")
            }
            _ => return Err(bad()),
        });
    }
    Ok(format!("({})", parts.join(", ")))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

fn sink_error(e: ClickHouseError) -> SinkError {
    SinkError::Other {
        retryable: e.is_retryable(),
        message: e.to_string(),
    }
}

impl Sink for ClickHouseSink {
    fn load_tasks(
        &mut self,
        service: &str,
        only: Option<&[(Topic, u32)]>,
    ) -> Result<Vec<StoredTask>, SinkError> {
        self.stored_tasks(service, only, true).map_err(sink_error)
    }

    fn task_heads(&mut self, service: &str) -> Result<Vec<StoredTask>, SinkError> {
        self.stored_tasks(service, None, false).map_err(sink_error)
    }

    fn commit(&mut self, service: &str, commit: &Commit<'_>) -> Result<(), SinkError> {
        self.write_groups(commit.groups).map_err(sink_error)?;
        let changed: Vec<&StoredTask> = commit
            .tasks
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(t, _)| t)
            .collect();
        self.write_tasks(service, &changed).map_err(sink_error)?;
        self.since_collect += 1;
        if self.since_collect >= COLLECT_EVERY {
            self.since_collect = 0;
            if let Err(e) = self.collect_chunks(service) {
                // Only disk: the next collection tries again.
                tracing::warn!(service, error = %e, "could not collect unreferenced checkpoint chunks");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::unhex;

    #[test]
    fn unhex_roundtrip() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(""), Some(vec![]));
    }
}
