//! The per-record pipeline of one service, with its state kept per input partition ("task").
//!
//! Every input partition `(topic, partition)` is a task with its own projection state, dedup
//! set, watermark, dead letters, counters and next offset, checkpointed on its own. That is what
//! lets a partition move between instances of a service (a Kafka rebalance) with exactly its
//! state: the new owner loads the task's last checkpoint and resumes at its offset. Tables are
//! rendered from the merge of every task's state: the tasks this instance owns, fresh, and the
//! tasks other instances own, as of their last checkpoint. A commit renders them as columns
//! straight from the tasks' states ([`Projection::render`]); [`Processor::tables`] renders the
//! rows of a merged copy ([`Projection::merge`]), which must be the same tables (`gigstream
//! verify` compares the two).

use crate::dead_letter::{dead_letter_table, DeadLetter, DEAD_LETTERS, POSITIONS};
use crate::dedup::Dedup;
use crate::sink::{RowGroup, StoredTask};
use crate::source::RecordRef;
use gigstream_avro::Codec;
use gigstream_core::columns::{ColumnTable, TableError};
use gigstream_core::table::{datetime_ms, TableData, TableDef, Value};
use gigstream_core::validate::validate;
use gigstream_core::{Fingerprints, Projection, RefData, Scope, TableChanges, Topic};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An input partition: the unit of state, checkpoint and ownership.
pub type TaskId = (Topic, u32);

/// Counters since the service's first start (they are part of the checkpoints).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Records read, per topic.
    pub consumed: BTreeMap<String, u64>,
    /// Events folded into the projection, per topic.
    pub applied: BTreeMap<String, u64>,
    /// Events whose id was seen before, counted once.
    pub duplicates: u64,
    /// Records skipped because the source redelivered an offset already reflected.
    pub redelivered: u64,
    /// Offsets the source skipped over (retention, or a positioning fault; logged).
    pub gaps: u64,
    /// Dead letters per reason code.
    pub dead_lettered: BTreeMap<String, u64>,
}

impl Stats {
    pub fn consumed_total(&self) -> u64 {
        self.consumed.values().sum()
    }
    pub fn applied_total(&self) -> u64 {
        self.applied.values().sum()
    }
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }

    fn add(&mut self, other: &Stats) {
        for (k, v) in &other.consumed {
            *self.consumed.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.applied {
            *self.applied.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.dead_lettered {
            *self.dead_lettered.entry(k.clone()).or_default() += v;
        }
        self.duplicates += other.duplicates;
        self.redelivered += other.redelivered;
        self.gaps += other.gaps;
    }
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Duplicate,
    Redelivered,
    DeadLettered,
    /// Not taken: its writer schema could not be asked for (the schema registry is unreachable
    /// or answers 5xx; [`gigstream_avro::DecodeError::is_retryable`]), which is no fault of the
    /// record. Nothing of it is consumed: the partition's next offset stays at it, and every
    /// later record of the partition is refused the same way until this one goes through. Hand
    /// it (and them, in order) to [`Processor::process`] again later;
    /// [`Processor::retry_error`] says what failed.
    Retry,
}

/// Everything one task needs to resume exactly where the committed tables stop.
#[derive(Serialize, Deserialize)]
pub struct TaskCheckpoint<P> {
    pub format: u32,
    pub service: String,
    pub topic: Topic,
    pub partition: u32,
    /// Replay epoch: bumped when a full replay is requested; part of every version.
    pub epoch: u32,
    pub next_offset: u64,
    /// Newest event time applied from the partition (ms; 0 before the first).
    pub watermark: i64,
    dedup: Dedup,
    pub dead_letters: Vec<DeadLetter>,
    pub stats: Stats,
    pub state: P,
}

const CHECKPOINT_FORMAT: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error("the {service} checkpoint of {topic}/{partition} cannot be read ({message}); it was written by another version or is damaged: replay the service from the log (embedded: remove DATA_DIR/tables/{service}; ClickHouse: `gigstream replay {service}`)")]
    Checkpoint {
        service: String,
        topic: String,
        partition: u32,
        message: String,
    },
    #[error("the {service} projection rendered a table that does not match its definition ({source}); this is a bug in the projection")]
    Table { service: String, source: TableError },
}

struct Task<P> {
    /// Its dead letters are the ones not committed yet: a commit takes them (they go into the
    /// `dead_letters` table and the dead-letter output) and checkpoints the task without them.
    ck: TaskCheckpoint<P>,
    /// Changed since its checkpoint was last committed (or never committed).
    changed: bool,
    /// Records read and events applied (of the task's topic) not yet added to `ck.stats`:
    /// counting in the maps keyed by topic name cost two lookups per record.
    unflushed: Counts,
    /// The record at `ck.next_offset` was refused with [`Outcome::Retry`]: later records of
    /// the partition are refused too until it goes through (never counted as a gap).
    waiting: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    consumed: u64,
    applied: u64,
}

impl Counts {
    fn add_to(self, stats: &mut Stats, topic: Topic) {
        for (map, n) in [
            (&mut stats.consumed, self.consumed),
            (&mut stats.applied, self.applied),
        ] {
            if n > 0 {
                add(map, topic.name(), n);
            }
        }
    }
}

impl<P: Projection> Task<P> {
    fn fresh(refdata: &RefData, (topic, partition): TaskId, epoch: u32) -> Task<P> {
        Task {
            ck: TaskCheckpoint {
                format: CHECKPOINT_FORMAT,
                service: P::NAME.to_string(),
                topic,
                partition,
                epoch,
                next_offset: 0,
                watermark: 0,
                dedup: Dedup::default(),
                dead_letters: Vec::new(),
                stats: Stats::default(),
                state: P::new(refdata),
            },
            // Never stored: its checkpoint (even at offset 0) must be written, so that every
            // task in the `positions` table has one.
            changed: true,
            unflushed: Counts::default(),
            waiting: false,
        }
    }

    /// From a stored checkpoint; an empty one (a replay marker) is a fresh task of its epoch.
    fn restore(refdata: &RefData, stored: &StoredTask) -> Result<Task<P>, ProcessorError> {
        let id = (stored.topic, stored.partition);
        if stored.bytes.is_empty() {
            return Ok(Task::fresh(refdata, id, stored.epoch));
        }
        let err = |message: String| ProcessorError::Checkpoint {
            service: P::NAME.to_string(),
            topic: stored.topic.name().to_string(),
            partition: stored.partition,
            message,
        };
        let ck: TaskCheckpoint<P> =
            rmp_serde::from_slice(&stored.bytes).map_err(|e| err(e.to_string()))?;
        if ck.format != CHECKPOINT_FORMAT || ck.service != P::NAME || (ck.topic, ck.partition) != id
        {
            return Err(err(format!(
                "format {} of {} {}/{}",
                ck.format,
                ck.service,
                ck.topic.name(),
                ck.partition
            )));
        }
        let mut ck = ck;
        // Letters in a checkpoint were committed with it (checkpoints of earlier versions kept
        // every letter): they are in the `dead_letters` table already.
        ck.dead_letters.clear();
        Ok(Task {
            ck,
            changed: false,
            unflushed: Counts::default(),
            waiting: false,
        })
    }

    /// Brings `ck.stats` up to date.
    fn flush_counts(&mut self) {
        std::mem::take(&mut self.unflushed).add_to(&mut self.ck.stats, self.ck.topic);
    }

    /// The version of the rows this task derives: the epoch above its next offset, like its
    /// checkpoint's ([`StoredTask::version`]).
    fn version(&self) -> u64 {
        (u64::from(self.ck.epoch) << 40) | (self.ck.next_offset & ((1 << 40) - 1))
    }

    /// The stored form of the checkpoint; [`Task::flush_counts`] first.
    fn stored(&self) -> StoredTask {
        StoredTask {
            topic: self.ck.topic,
            partition: self.ck.partition,
            epoch: self.ck.epoch,
            next_offset: self.ck.next_offset,
            bytes: rmp_serde::to_vec(&self.ck)
                .expect("projection state serialises (checked by each projection's tests)"),
        }
    }
}

/// Runs records through decode → validate → lateness → dedup → fold for projection `P`.
pub struct Processor<P: Projection> {
    codec: Codec,
    refdata: Arc<RefData>,
    lateness_ms: i64,
    /// Tasks this instance owns and feeds.
    owned: BTreeMap<TaskId, Task<P>>,
    /// Tasks owned elsewhere, as of their last checkpoint: read-only, for rendering.
    foreign: BTreeMap<TaskId, Task<P>>,
    /// Anything (owned or foreign) changed since the last render was committed.
    render_stale: bool,
    /// [`Scope::Merged`]: what the last commit wrote of the merged tables, to write only what
    /// changed.
    written: Fingerprints,
    /// No commit prepared yet: the first one names every table (so that each exists).
    first_commit: bool,
    /// Why the last [`Outcome::Retry`] was given.
    retry_error: Option<String>,
}

/// What one commit writes, prepared by [`Processor::prepare_commit`].
#[derive(Debug)]
pub struct CommitPlan {
    /// Changed rows, by version.
    pub groups: Vec<RowGroup>,
    /// Checkpoints of every owned task, and whether each changed.
    pub tasks: Vec<(StoredTask, bool)>,
    /// The dead letters this commit records, for the dead-letter output (delivered before
    /// the commit, so that none is lost).
    pub letters: Vec<DeadLetter>,
}

impl CommitPlan {
    /// Rows written: upserts and deletes over every group.
    pub fn rows(&self) -> u64 {
        self.groups.iter().map(|g| g.rows() as u64).sum()
    }
}

impl<P: Projection> Processor<P> {
    /// Newest event time applied per owned partition (Unix ms); partitions with no event yet
    /// are left out.
    pub fn watermarks(&self) -> BTreeMap<TaskId, i64> {
        self.owned
            .iter()
            .filter(|(_, t)| t.ck.watermark > 0)
            .map(|(k, t)| (*k, t.ck.watermark))
            .collect()
    }

    pub fn new(codec: Codec, refdata: Arc<RefData>) -> Processor<P> {
        Processor {
            codec,
            lateness_ms: refdata.pipeline.allowed_lateness_ms(),
            refdata,
            owned: BTreeMap::new(),
            foreign: BTreeMap::new(),
            render_stale: true,
            written: Fingerprints::default(),
            first_commit: true,
            retry_error: None,
        }
    }

    /// The codec records are decoded with.
    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    /// Why the last record refused with [`Outcome::Retry`] was refused (the decode error,
    /// naming the schema registry and what failed), if one was.
    pub fn retry_error(&self) -> Option<&str> {
        self.retry_error.as_deref()
    }

    /// The owned partitions whose next record was refused with [`Outcome::Retry`] and has not
    /// gone through since.
    pub fn waiting(&self) -> Vec<TaskId> {
        self.owned
            .iter()
            .filter(|(_, t)| t.waiting)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Takes ownership of a task from its latest stored checkpoint (`None`: nothing stored, a
    /// fresh task at offset 0). Replaces any foreign copy.
    pub fn adopt(&mut self, id: TaskId, stored: Option<&StoredTask>) -> Result<(), ProcessorError> {
        let task = match stored {
            Some(s) => Task::restore(&self.refdata, s)?,
            None => Task::fresh(&self.refdata, id, self.epoch()),
        };
        // The tables already reflect the task as stored (its last commit rendered it, or a
        // copy of it as foreign): adopting changes nothing to render.
        self.foreign.remove(&id);
        self.owned.insert(id, task);
        Ok(())
    }

    /// Gives up owned tasks (revoked): they stay as foreign copies as of now, which must be
    /// what was last committed (the runner commits before releasing).
    pub fn release(&mut self, ids: &[TaskId]) {
        for id in ids {
            if let Some(mut t) = self.owned.remove(id) {
                t.flush_counts();
                self.foreign.insert(*id, t);
            }
        }
    }

    /// Installs or refreshes the copy of a task another instance owns.
    pub fn set_foreign(&mut self, stored: &StoredTask) -> Result<(), ProcessorError> {
        let id = (stored.topic, stored.partition);
        if self.owned.contains_key(&id) {
            return Ok(());
        }
        let task = Task::restore(&self.refdata, stored)?;
        self.foreign.insert(id, task);
        self.render_stale = true;
        Ok(())
    }

    /// `(epoch, next_offset)` of every known task that this instance does not own.
    pub fn foreign_heads(&self) -> BTreeMap<TaskId, (u32, u64)> {
        self.foreign
            .iter()
            .map(|(k, t)| (*k, (t.ck.epoch, t.ck.next_offset)))
            .collect()
    }

    /// The tasks this instance owns.
    pub fn owned(&self) -> Vec<TaskId> {
        self.owned.keys().copied().collect()
    }

    pub fn owns(&self, id: &TaskId) -> bool {
        self.owned.contains_key(id)
    }

    /// Next offset per owned partition: where the source must resume.
    pub fn positions(&self) -> BTreeMap<TaskId, u64> {
        self.owned
            .iter()
            .map(|(k, t)| (*k, t.ck.next_offset))
            .collect()
    }

    /// The replay epoch: the highest of every known task's.
    pub fn epoch(&self) -> u32 {
        self.owned
            .values()
            .chain(self.foreign.values())
            .map(|t| t.ck.epoch)
            .max()
            .unwrap_or(0)
    }

    /// The version of the tables rendered now: the epoch above the sum of every task's next
    /// offset. It grows with the input reflected, is the same for the same input whoever
    /// renders it (so a replayed commit rewrites identical rows at an identical version), and
    /// a full replay (a new epoch) outranks everything before it.
    pub fn version(&self) -> u64 {
        let sum: u64 = self
            .owned
            .values()
            .chain(self.foreign.values())
            .map(|t| t.ck.next_offset)
            .sum();
        (u64::from(self.epoch()) << 40) | (sum & ((1 << 40) - 1))
    }

    /// Counters over every known task (the whole service).
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for t in self.owned.values().chain(self.foreign.values()) {
            s.add(&t.ck.stats);
            t.unflushed.add_to(&mut s, t.ck.topic);
        }
        s
    }

    pub fn refdata(&self) -> &RefData {
        &self.refdata
    }

    /// Whether something changed since the last commit (owned input or foreign copies).
    pub fn needs_commit(&self) -> bool {
        self.render_stale || self.owned.values().any(|t| t.changed)
    }

    /// Every dead letter of every known task, in task order.
    pub fn dead_letters(&self) -> Vec<&DeadLetter> {
        self.owned
            .values()
            .chain(self.foreign.values())
            .flat_map(|t| &t.ck.dead_letters)
            .collect()
    }

    /// Prepares a commit: the rows that changed since the last one, the dead letters it
    /// records, and the checkpoints. [`Scope::Partition`]: each changed task reports its own
    /// changes ([`Projection::changes`]) at its own version and then forgets what can no
    /// longer change ([`Projection::evict`]); [`Scope::Merged`]: the merged tables are
    /// rendered and compared with what the last commit wrote. Either way each changed task
    /// adds its new dead letters and its position, at its version.
    ///
    /// After a failed commit the same plan is what must be committed: the changes it holds
    /// are no longer in the states.
    pub fn prepare_commit(&mut self) -> Result<CommitPlan, ProcessorError> {
        let err = |source: TableError| ProcessorError::Table {
            service: P::NAME.to_string(),
            source,
        };
        let mut groups = Vec::new();
        if P::SCOPE == Scope::Merged && self.needs_commit() {
            let mut tables = Vec::new();
            for t in self.projection_columns().map_err(err)? {
                tables.push(self.written.diff(&t).map_err(err)?);
            }
            groups.push(RowGroup {
                version: self.version(),
                tables,
            });
        }
        let lateness = self.lateness_ms;
        let mut letters = Vec::new();
        for task in self.owned.values_mut().filter(|t| t.changed) {
            let version = task.version();
            let mut tables = if P::SCOPE == Scope::Partition {
                task.ck.state.changes(&self.refdata).map_err(err)?
            } else {
                Vec::new()
            };
            if task.ck.watermark > 0 {
                task.ck
                    .state
                    .evict(&self.refdata, task.ck.watermark - lateness);
            }
            let new_letters = std::mem::take(&mut task.ck.dead_letters);
            tables.push(TableChanges::upserts(&dead_letter_table(&new_letters)).map_err(err)?);
            let mut pos = TableData::new(&POSITIONS);
            pos.push(position_row::<P>(&task.ck));
            tables.push(TableChanges::upserts(&pos).map_err(err)?);
            letters.extend(new_letters);
            groups.push(RowGroup { version, tables });
        }
        if std::mem::take(&mut self.first_commit) {
            // Every table, even without a row, so that each exists for SQL.
            let mut defs: Vec<&'static TableDef> = P::table_defs().to_vec();
            defs.extend([&DEAD_LETTERS, &POSITIONS]);
            groups.push(RowGroup {
                version: 0,
                tables: defs.into_iter().map(TableChanges::none).collect(),
            });
        }
        let tasks = self
            .owned
            .values_mut()
            .map(|t| {
                t.flush_counts();
                (t.stored(), t.changed)
            })
            .collect();
        Ok(CommitPlan {
            groups,
            tasks,
            letters,
        })
    }

    /// Records that the current state was committed.
    pub fn mark_committed(&mut self) {
        for t in self.owned.values_mut() {
            t.changed = false;
        }
        self.render_stale = false;
    }

    /// Handles one record of an owned partition (a record of a partition not owned yet starts
    /// a fresh task: the embedded log's partitions created after start).
    pub fn process(&mut self, rec: RecordRef<'_>) -> Outcome {
        let id = (rec.topic, rec.partition);
        if !self.owned.contains_key(&id) {
            let epoch = self.epoch();
            self.owned.insert(id, Task::fresh(&self.refdata, id, epoch));
        }
        let task = self.owned.get_mut(&id).expect("inserted above");
        let ck = &mut task.ck;
        if rec.offset < ck.next_offset {
            ck.stats.redelivered += 1;
            return Outcome::Redelivered;
        }
        if task.waiting && rec.offset > ck.next_offset {
            // An earlier record of the partition waits for its writer schema: this one comes
            // after it, not after a gap.
            return Outcome::Retry;
        }
        // Decoded before anything is counted: a record whose writer schema cannot be asked
        // for now is not consumed at all.
        let decoded = self.codec.decode(rec.topic, rec.value);
        if let Err(e) = &decoded {
            if e.is_retryable() {
                task.waiting = true;
                self.retry_error = Some(e.to_string());
                return Outcome::Retry;
            }
        }
        task.waiting = false;
        if rec.offset > ck.next_offset {
            tracing::warn!(service = P::NAME, topic = %rec.topic, partition = rec.partition, expected = ck.next_offset, got = rec.offset, "offsets skipped: the source moved past records this service never saw (retention?)");
            ck.stats.gaps += rec.offset - ck.next_offset;
        }
        ck.next_offset = rec.offset + 1;
        task.changed = true;
        task.unflushed.consumed += 1;

        let event = match decoded {
            Ok(e) => e,
            Err(e) => return dead_letter::<P>(ck, &rec, e.code(), e.to_string()),
        };
        if let Err(inv) = validate(&event, &self.refdata, rec.timestamp_ms) {
            return dead_letter::<P>(ck, &rec, inv.code, inv.detail);
        }
        let t = event.occurred_at();
        if ck.watermark > 0 && t < ck.watermark - self.lateness_ms {
            let detail = format!(
                "event time {} is older than the partition's newest event time {} minus the allowed lateness {}",
                gigstream_core::time::fmt_ts(t),
                gigstream_core::time::fmt_ts(ck.watermark),
                self.refdata.pipeline.allowed_lateness
            );
            return dead_letter::<P>(ck, &rec, "late", detail);
        }
        if t > ck.watermark {
            // Evict by whole days, and only when a new day starts, to keep this cheap.
            let day = gigstream_core::time::DAY_MS;
            if t.div_euclid(day) != ck.watermark.div_euclid(day) {
                ck.dedup.evict_before(t - self.lateness_ms);
            }
            ck.watermark = t;
        }
        if !ck.dedup.insert(event.event_id(), t) {
            ck.stats.duplicates += 1;
            return Outcome::Duplicate;
        }
        match ck.state.apply(&self.refdata, &event) {
            Ok(()) => {
                task.unflushed.applied += 1;
                Outcome::Applied
            }
            Err(rej) => dead_letter::<P>(ck, &rec, rej.code, rej.detail),
        }
    }

    /// The merged projection state of every known task.
    pub fn merged_state(&self) -> P {
        let mut merged = P::new(&self.refdata);
        for t in self.owned.values().chain(self.foreign.values()) {
            merged.merge(&t.ck.state);
        }
        merged
    }

    /// Every table the service writes, from every known task: the projection's, its dead
    /// letters and its positions. Rows of the merged state ([`Projection::tables`]); a commit
    /// writes [`Processor::column_tables`], which must be the same.
    pub fn tables(&self) -> Vec<TableData> {
        let mut out = match self.owned.len() + self.foreign.len() {
            1 => {
                let only = self.owned.values().chain(self.foreign.values());
                only.map(|t| t.ck.state.tables(&self.refdata))
                    .next()
                    .unwrap_or_default()
            }
            _ => self.merged_state().tables(&self.refdata),
        };
        out.extend(self.runtime_tables());
        out
    }

    /// Every table the service writes, as columns, rendered from every known task's state
    /// as they are ([`Projection::render`]); must equal [`Processor::tables`].
    pub fn column_tables(&self) -> Result<Vec<ColumnTable>, ProcessorError> {
        let err = |source: TableError| ProcessorError::Table {
            service: P::NAME.to_string(),
            source,
        };
        let mut out = self.projection_columns().map_err(err)?;
        for t in self.runtime_tables() {
            out.push(ColumnTable::from_rows(&t).map_err(err)?);
        }
        Ok(out)
    }

    /// The tables the runtime adds to the projection's: dead letters and positions.
    fn runtime_tables(&self) -> [TableData; 2] {
        let letters: Vec<DeadLetter> = self.dead_letters().into_iter().cloned().collect();
        let mut all: Vec<&Task<P>> = self.owned.values().chain(self.foreign.values()).collect();
        all.sort_by_key(|t| (t.ck.topic.name(), t.ck.partition));
        let mut pos = TableData::new(&POSITIONS);
        for t in all {
            pos.push(position_row::<P>(&t.ck));
        }
        [dead_letter_table(&letters), pos]
    }

    /// The projection's tables, as columns, rendered from every known task's state
    /// ([`Projection::render`]) without building a merged copy.
    fn projection_columns(&self) -> Result<Vec<ColumnTable>, TableError> {
        let states: Vec<&P> = self
            .owned
            .values()
            .chain(self.foreign.values())
            .map(|t| &t.ck.state)
            .collect();
        P::render(&states, &self.refdata)
    }
}

/// The `positions` row of a task.
fn position_row<P: Projection>(ck: &TaskCheckpoint<P>) -> Vec<Value> {
    vec![
        Value::Str(P::NAME.to_string()),
        Value::Str(ck.topic.name().to_string()),
        Value::U32(ck.partition),
        Value::U64(ck.next_offset),
        datetime_ms(ck.watermark),
    ]
}

fn dead_letter<P: Projection>(
    ck: &mut TaskCheckpoint<P>,
    rec: &RecordRef<'_>,
    code: &str,
    reason: String,
) -> Outcome {
    // A record made from a file names its line (`gigstream produce --from`).
    let reason = match rec.origin {
        Some(origin) => format!("{origin}: {reason}"),
        None => reason,
    };
    tracing::debug!(service = P::NAME, topic = %rec.topic, partition = rec.partition, offset = rec.offset, code, %reason, "dead letter");
    bump(&mut ck.stats.dead_lettered, code);
    ck.dead_letters.push(DeadLetter {
        service: P::NAME.to_string(),
        topic: rec.topic.name().to_string(),
        partition: rec.partition,
        offset: rec.offset,
        timestamp_ms: rec.timestamp_ms,
        code: code.to_string(),
        reason,
        key: rec.key.to_vec(),
        value: rec.value.to_vec(),
    });
    Outcome::DeadLettered
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    add(map, key, 1);
}

fn add(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(v) => *v += n,
        None => {
            map.insert(key.to_string(), n);
        }
    }
}
