//! The service loop: poll, process, commit periodically and at the end, stop on request.

use crate::dead_letter::DeadLetter;
use crate::processor::{Outcome, Processor, ProcessorError, Stats};
use crate::sink::{Commit, Sink, SinkError};
use crate::source::{AssignmentChange, Origin, RecordRef, Source, SourceError};
use gigstream_avro::Codec;
use gigstream_core::{Projection, RefData, Scope, Topic};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Checkpoint(#[from] ProcessorError),
    /// Stopping (SIGTERM) took longer than the shutdown deadline: a retry loop gave up.
    #[error(
        "could not {what} within the shutdown deadline of {deadline:?} after the stop request \
         (last error: {last_error}); the uncommitted input is read again at the next start"
    )]
    ShutdownDeadline {
        what: String,
        deadline: Duration,
        last_error: String,
    },
}

/// How a service runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Keep polling after catching up, until `stop` is set.
    pub follow: bool,
    /// Commit after this many records (bounds the replay after a crash).
    pub commit_every_records: u64,
    /// Commit at least this often while records flow.
    pub commit_interval: Duration,
    /// How long to wait when caught up in follow mode.
    pub idle_wait: Duration,
    /// After `stop` is seen, retry loops (sink down, dead letters undeliverable) give up once
    /// this much time has passed, with [`RunError::ShutdownDeadline`]. `None`: they retry
    /// until they succeed, as without a stop.
    pub shutdown_deadline: Option<Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            follow: false,
            commit_every_records: 5_000_000,
            commit_interval: Duration::from_secs(30),
            idle_wait: Duration::from_millis(200),
            shutdown_deadline: None,
        }
    }
}

/// Progress reported while running.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub records: u64,
    pub lag: Option<u64>,
}

/// Records of one poll batch, per topic (indexed like [`Topic::ALL`]) and outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollBatch {
    pub consumed: [u64; 3],
    pub applied: [u64; 3],
    pub duplicates: [u64; 3],
    pub redelivered: [u64; 3],
    pub dead_lettered: [u64; 3],
}

impl PollBatch {
    fn count(&mut self, topic: Topic, outcome: Outcome) {
        let i = topic_index(topic);
        let slot = match outcome {
            Outcome::Applied => &mut self.applied,
            Outcome::Duplicate => &mut self.duplicates,
            Outcome::Redelivered => &mut self.redelivered,
            Outcome::DeadLettered => &mut self.dead_lettered,
            // Not consumed: it is handed to the processor again.
            Outcome::Retry => return,
        };
        self.consumed[i] += 1;
        slot[i] += 1;
    }

    fn is_empty(&self) -> bool {
        self.consumed.iter().all(|n| *n == 0)
    }
}

/// The index of `topic` in [`Topic::ALL`].
pub fn topic_index(topic: Topic) -> usize {
    match topic {
        Topic::Orders => 0,
        Topic::Usage => 1,
        Topic::Telemetry => 2,
    }
}

/// One commit attempt as the observer sees it.
#[derive(Debug, Clone, Copy)]
pub struct CommitReport<'a> {
    /// From rendering the tables to the sink's answer (including dead-letter delivery).
    pub duration: Duration,
    /// Rows written (every table's rows).
    pub rows: u64,
    /// `Err(message)` when the sink refused or could not be reached.
    pub result: Result<(), &'a str>,
}

/// Watches a run without taking part in it (metrics, readiness). Every method has a no-op
/// default; they are called on the runner's thread, per poll batch or per commit, never per
/// record, so they should be quick.
pub trait RunObserver: Send + Sync {
    /// The run starts; `exclusive` is [`Source::exclusive`] (the embedded log).
    fn started(&self, _service: &'static str, _exclusive: bool) {}
    /// One poll's records, counted by topic and outcome.
    fn polled(&self, _service: &'static str, _batch: &PollBatch) {}
    /// Lag, at most every 250 ms: the total and, when the source knows it, per partition.
    fn lag(
        &self,
        _service: &'static str,
        _total: Option<u64>,
        _partitions: Option<&BTreeMap<(Topic, u32), u64>>,
    ) {
    }
    /// With each lag report: the newest event time (`occurred_at`, Unix ms) applied from each
    /// owned partition (partitions with none yet are left out).
    fn event_times(&self, _service: &'static str, _watermarks: &BTreeMap<(Topic, u32), i64>) {}
    /// A commit attempt ended (success or error; retries call this again).
    fn committed(&self, _service: &'static str, _report: &CommitReport<'_>) {}
    /// Any other sink operation (loading checkpoints, reading heads) ended.
    fn sink_result(&self, _service: &'static str, _what: &str, _result: Result<(), &str>) {}
    /// A failed operation will be retried after `delay`. `what` is [`WAIT_SCHEMAS`] while
    /// records wait for the schema registry.
    fn retry(&self, _service: &'static str, _what: &str, _error: &str, _delay: Duration) {}
    /// Records wait for their writer schemas: `Err(error)` each time the schema registry could
    /// not be asked (the records are not consumed; they are tried again after a backoff, never
    /// dead-lettered), `Ok(())` once every waiting record went through.
    fn schema_registry(&self, _service: &'static str, _result: Result<(), &str>) {}
    /// The partitions owned changed (after a rebalance was handled); `owned` is the new set.
    fn assignment(&self, _service: &'static str, _owned: &[(Topic, u32)]) {}
    /// Dead letters committed, counted by `(topic, code)`.
    fn dead_letters(&self, _service: &'static str, _counts: &BTreeMap<(String, String), u64>) {}
    /// The stop request was seen: no more polling, the last commit follows.
    fn stopping(&self, _service: &'static str) {}
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub service: &'static str,
    /// Records handled in this run.
    pub records: u64,
    pub commits: u64,
    pub elapsed: Duration,
    /// Time spent rendering tables and committing them (included in `elapsed`).
    pub commit_time: Duration,
    /// Counters since the service's first start.
    pub stats: Stats,
}

/// Where dead letters go besides the service's tables (Kafka: `<topic>.dlq`). Called with the
/// new dead letters before the commit that records them, so none is lost; after a crash they may
/// be sent again (the origin topic, partition and offset identify repeats).
pub trait DeadLetterOutput: Send {
    fn send(&mut self, letters: &[&DeadLetter]) -> Result<(), String>;
}

/// What a run reads, writes and reports to.
pub struct Pipeline<'a> {
    pub codec: Codec,
    pub refdata: Arc<RefData>,
    pub source: &'a mut dyn Source,
    pub sink: &'a mut dyn Sink,
    /// Where dead letters go besides the service's tables (Kafka: `<topic>.dlq`).
    pub dead_letters: Option<&'a mut dyn DeadLetterOutput>,
    /// Metrics and readiness.
    pub observer: Option<&'a dyn RunObserver>,
}

impl<'a> Pipeline<'a> {
    /// A pipeline from `source` to `sink` with no dead-letter output and no observer.
    pub fn new(
        codec: Codec,
        refdata: Arc<RefData>,
        source: &'a mut dyn Source,
        sink: &'a mut dyn Sink,
    ) -> Pipeline<'a> {
        Pipeline {
            codec,
            refdata,
            source,
            sink,
            dead_letters: None,
            observer: None,
        }
    }
}

/// What the runner calls waiting for the schema registry, in [`RunObserver::retry`] and the
/// shutdown-deadline error.
pub const WAIT_SCHEMAS: &str = "read writer schemas from the schema registry";

/// A record the processor refused with [`Outcome::Retry`] (or a later record of its
/// partition), kept to be handed to it again: the source has moved past it.
struct HeldRecord {
    topic: Topic,
    partition: u32,
    offset: u64,
    timestamp_ms: i64,
    key: Vec<u8>,
    value: Vec<u8>,
    /// [`Origin`]'s file and line.
    origin: Option<(Vec<u8>, Vec<u8>)>,
}

impl HeldRecord {
    fn of(rec: &RecordRef<'_>) -> HeldRecord {
        HeldRecord {
            topic: rec.topic,
            partition: rec.partition,
            offset: rec.offset,
            timestamp_ms: rec.timestamp_ms,
            key: rec.key.to_vec(),
            value: rec.value.to_vec(),
            origin: rec.origin.map(|o| (o.file.to_vec(), o.line.to_vec())),
        }
    }

    fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            topic: self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp_ms: self.timestamp_ms,
            key: &self.key,
            value: &self.value,
            origin: self
                .origin
                .as_ref()
                .map(|(file, line)| Origin { file, line }),
        }
    }
}

/// Runs projection `P` from its last commit until caught up (or until `stop` in follow mode),
/// committing tables with the task checkpoints along the way and at the end.
///
/// While the schema registry cannot be reached (a record's writer schema cannot be asked
/// for: [`Outcome::Retry`]), that record and every later record of its partition are kept,
/// not consumed: the runner commits what it processed, then waits with backoff (200 ms,
/// doubling up to 30 s; `schema registry unavailable; retrying` in the log, naming the
/// registry and the error) and hands the kept records to the processor again, in order, until
/// they go through; nothing is polled meanwhile (like a commit retry: a Kafka member stays in
/// its group for `max.poll.interval.ms`, and a partition moved away resumes from its
/// checkpoint). A stop request ends the wait at once: the kept records are read again at the
/// next start.
pub fn run<P: Projection>(
    pipeline: Pipeline<'_>,
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    let Pipeline {
        codec,
        refdata,
        source,
        sink,
        dead_letters: dlq,
        observer,
    } = pipeline;
    let started = Instant::now();
    let guard = Guard {
        service: P::NAME,
        stop,
        deadline: opts.shutdown_deadline,
        stop_seen: Cell::new(None),
        observer,
    };
    if let Some(o) = guard.observer {
        o.started(P::NAME, source.exclusive());
    }
    let registry = codec
        .writer_schemas()
        .map(|w| w.describe())
        .unwrap_or_else(|| "schema registry".to_string());
    let mut proc: Processor<P> = Processor::new(codec, refdata);
    let first_run = if P::SCOPE == Scope::Partition {
        // Each instance holds only its own partitions' states: the others' are never loaded.
        guard
            .retrying("read the checkpoint heads", || sink.task_heads(P::NAME))?
            .is_empty()
    } else {
        // Everything stored starts as another instance's; assignments adopt what is ours.
        let stored = guard.retrying("load the checkpoints", || sink.load_tasks(P::NAME, None))?;
        for t in &stored {
            proc.set_foreign(t)?;
        }
        stored.is_empty()
    };
    // The stored tables already reflect the stored checkpoints (or more, after a crash between
    // the two): nothing to render until something moves.
    proc.mark_committed();
    let mut records = 0u64;
    let mut since_commit = 0u64;
    let mut last_commit = Instant::now();
    let mut commits = 0u64;
    let mut last_progress = Instant::now();
    let mut commit_time = Duration::ZERO;
    let mut ctx = CommitCtx {
        sink,
        dlq,
        guard: &guard,
    };
    let mut pending: Vec<AssignmentChange> = Vec::new();
    while !guard.stopping() {
        pending.extend(source.take_assignment_changes());
        let rebalanced = !pending.is_empty();
        for change in std::mem::take(&mut pending) {
            match change {
                AssignmentChange::Revoked(ids) => {
                    let ours: Vec<_> = ids.into_iter().filter(|id| proc.owns(id)).collect();
                    if ours.is_empty() {
                        continue;
                    }
                    // Flush what the revoked partitions produced before letting them go.
                    if proc.needs_commit() {
                        commit_time += ctx.commit(&mut proc, source)?;
                        commits += 1;
                        since_commit = 0;
                        last_commit = Instant::now();
                    }
                    proc.release(&ours);
                    tracing::info!(service = P::NAME, partitions = ?ours, "released revoked partitions after committing them");
                }
                AssignmentChange::Assigned(ids) => {
                    let new: Vec<_> = ids.into_iter().filter(|id| !proc.owns(id)).collect();
                    let stored = guard.retrying("load the checkpoints", || {
                        ctx.sink.load_tasks(P::NAME, Some(&new))
                    })?;
                    for id in &new {
                        let s = stored.iter().find(|s| (s.topic, s.partition) == *id);
                        proc.adopt(*id, s)?;
                    }
                    source.seek(&proc.positions())?;
                    tracing::info!(service = P::NAME, partitions = ?new, "adopted assigned partitions from their checkpoints");
                }
            }
        }
        if rebalanced {
            if let Some(o) = guard.observer {
                o.assignment(P::NAME, &proc.owned());
            }
        }
        let mut batch = PollBatch::default();
        let mut held: Vec<HeldRecord> = Vec::new();
        let n = source.poll(&mut |rec| {
            let outcome = proc.process(rec);
            if outcome == Outcome::Retry {
                held.push(HeldRecord::of(&rec));
            } else {
                batch.count(rec.topic, outcome);
            }
        })? as u64;
        if let Some(o) = guard.observer {
            if !batch.is_empty() {
                o.polled(P::NAME, &batch);
            }
        }
        let taken = n - held.len() as u64;
        records += taken;
        since_commit += taken;
        if last_progress.elapsed() > Duration::from_millis(250) {
            let lag = source.lag();
            if let Some(o) = guard.observer {
                o.lag(P::NAME, lag, source.partition_lag().as_ref());
                o.event_times(P::NAME, &proc.watermarks());
            }
            progress(Progress { records, lag });
            last_progress = Instant::now();
        }
        let due = since_commit >= opts.commit_every_records
            || (proc.needs_commit() && last_commit.elapsed() >= opts.commit_interval);
        // Before waiting for the schema registry, commit what went through.
        if due || ((n == 0 || !held.is_empty()) && proc.needs_commit()) {
            if !source.exclusive() {
                ctx.refresh_foreign(&mut proc)?;
            }
            commit_time += ctx.commit(&mut proc, source)?;
            commits += 1;
            since_commit = 0;
            last_commit = Instant::now();
        }
        if !held.is_empty() {
            let taken = wait_for_schemas(&mut proc, &guard, &registry, held);
            records += taken;
            since_commit += taken;
            // Stopping: the run ends below and commits what went through; the rest is read
            // again at the next start. Else the next poll goes on after the kept records.
            continue;
        }
        if n == 0 {
            // A rebalance ends a poll early: handle it before concluding anything.
            pending.extend(source.take_assignment_changes());
            if !pending.is_empty() {
                continue;
            }
            if !opts.follow {
                if source.caught_up() {
                    break;
                }
                continue;
            }
            if !source.exclusive() && last_commit.elapsed() >= opts.commit_interval {
                // Other instances move their partitions on: render their progress too.
                ctx.refresh_foreign(&mut proc)?;
                last_commit = Instant::now();
            }
            std::thread::sleep(opts.idle_wait);
        }
    }
    // The first run commits even with no input, so every table exists for SQL.
    if proc.needs_commit() || (first_run && commits == 0) {
        commit_time += ctx.commit(&mut proc, source)?;
        commits += 1;
    }
    let lag = source.lag();
    if let Some(o) = guard.observer {
        o.lag(P::NAME, lag, source.partition_lag().as_ref());
        o.event_times(P::NAME, &proc.watermarks());
    }
    progress(Progress { records, lag });
    Ok(RunSummary {
        service: P::NAME,
        records,
        commits,
        elapsed: started.elapsed(),
        commit_time,
        stats: proc.stats(),
    })
}

/// Hands `held` (records refused with [`Outcome::Retry`], in the order the source gave them)
/// to the processor again after a backoff, until every one went through or a stop is
/// requested; returns how many went through. Nothing else is read meanwhile.
fn wait_for_schemas<P: Projection>(
    proc: &mut Processor<P>,
    guard: &Guard<'_>,
    registry: &str,
    mut held: Vec<HeldRecord>,
) -> u64 {
    let service = P::NAME;
    let started = Instant::now();
    let mut backoff = Backoff::new();
    let mut attempts = 0u64;
    let mut taken = 0u64;
    loop {
        let error = proc
            .retry_error()
            .unwrap_or("the schema registry cannot be reached")
            .to_string();
        let delay = backoff.next();
        attempts += 1;
        let waiting = proc.waiting();
        tracing::warn!(
            service,
            registry,
            error = %error,
            retry_in = ?delay,
            records = held.len(),
            partitions = ?waiting,
            "schema registry unavailable; retrying (the records wait, none is dead-lettered)"
        );
        if let Some(o) = guard.observer {
            o.schema_registry(service, Err(&error));
            o.retry(service, WAIT_SCHEMAS, &error, delay);
        }
        if !guard.sleep_unless_stopping(delay) {
            tracing::info!(
                service,
                registry,
                records = held.len(),
                "stop requested while waiting for the schema registry: the waiting records are read again at the next start"
            );
            return taken;
        }
        let mut batch = PollBatch::default();
        for rec in std::mem::take(&mut held) {
            let r = rec.as_ref();
            if !proc.owns(&(r.topic, r.partition)) {
                continue; // released meanwhile: its next owner reads it from the checkpoint
            }
            match proc.process(r) {
                Outcome::Retry => held.push(rec),
                outcome => batch.count(r.topic, outcome),
            }
        }
        let n: u64 = batch.consumed.iter().sum();
        taken += n;
        if let Some(o) = guard.observer {
            if n > 0 {
                o.polled(service, &batch);
            }
        }
        if held.is_empty() {
            if let Some(o) = guard.observer {
                o.schema_registry(service, Ok(()));
            }
            tracing::info!(
                service,
                registry,
                waited_ms = started.elapsed().as_millis() as u64,
                retries = attempts,
                "schema registry reachable again: the waiting records went through"
            );
            return taken;
        }
    }
}

/// The stop request, the shutdown deadline and the observer, as the retry loops see them.
struct Guard<'a> {
    service: &'static str,
    stop: &'a AtomicBool,
    deadline: Option<Duration>,
    /// When the stop request was first seen.
    stop_seen: Cell<Option<Instant>>,
    observer: Option<&'a dyn RunObserver>,
}

/// The longest single sleep between checks of the stop request while waiting to retry.
const STOP_CHECK: Duration = Duration::from_millis(100);

impl Guard<'_> {
    /// Whether stopping was requested (remembering when it was first seen).
    fn stopping(&self) -> bool {
        if !self.stop.load(Ordering::Relaxed) {
            return false;
        }
        if self.stop_seen.get().is_none() {
            self.stop_seen.set(Some(Instant::now()));
            tracing::info!(service = self.service, deadline = ?self.deadline, "stop requested: committing what was read");
            if let Some(o) = self.observer {
                o.stopping(self.service);
            }
        }
        true
    }

    /// Sleeps `delay`, or less when a stop is requested; whether it slept the whole delay.
    fn sleep_unless_stopping(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            if self.stopping() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(STOP_CHECK));
        }
    }

    /// Waits `delay` before retrying `what`, or less when the shutdown deadline comes first
    /// (then the error).
    fn wait_retry(&self, what: &str, error: &str, delay: Duration) -> Result<(), RunError> {
        if let Some(o) = self.observer {
            o.retry(self.service, what, error, delay);
        }
        let until = Instant::now() + delay;
        loop {
            if self.stopping() {
                if let (Some(deadline), Some(seen)) = (self.deadline, self.stop_seen.get()) {
                    if seen.elapsed() >= deadline {
                        tracing::error!(
                            service = self.service,
                            ?deadline,
                            error,
                            "giving up: cannot {what} within the shutdown deadline"
                        );
                        return Err(RunError::ShutdownDeadline {
                            what: what.to_string(),
                            deadline,
                            last_error: error.to_string(),
                        });
                    }
                }
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep((until - now).min(STOP_CHECK));
        }
    }

    /// Runs `f` until it succeeds or fails for good: while the sink is unreachable (a retryable
    /// error) it waits with exponential backoff (200 ms up to 30 s) and says so in the log; after
    /// a stop request, only until the shutdown deadline.
    fn retrying<T>(
        &self,
        what: &str,
        mut f: impl FnMut() -> Result<T, SinkError>,
    ) -> Result<T, RunError> {
        let mut backoff = Backoff::new();
        loop {
            let result = f();
            if let Some(o) = self.observer {
                let message = result.as_ref().err().map(|e| e.to_string());
                o.sink_result(self.service, what, message.as_deref().map_or(Ok(()), Err));
            }
            match result {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() => {
                    let (service, delay) = (self.service, backoff.next());
                    tracing::warn!(service, error = %e, retry_in = ?delay, "cannot {what}; retrying");
                    self.wait_retry(what, &e.to_string(), delay)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Waits between retries of an unreachable sink: 200 ms, doubling up to 30 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(Duration::from_millis(200))
    }

    /// The wait before the next attempt; the one after is twice as long (at most 30 s).
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (d * 2).min(Duration::from_secs(30));
        d
    }
}

struct CommitCtx<'a, 'b, 'g> {
    sink: &'a mut dyn Sink,
    dlq: Option<&'b mut dyn DeadLetterOutput>,
    guard: &'g Guard<'g>,
}

impl CommitCtx<'_, '_, '_> {
    /// Loads the checkpoints other instances committed since we last looked.
    fn refresh_foreign<P: Projection>(&mut self, proc: &mut Processor<P>) -> Result<(), RunError> {
        if P::SCOPE == Scope::Partition {
            // Rows derive from each instance's own partitions: nothing to refresh.
            return Ok(());
        }
        let known = proc.foreign_heads();
        let heads = self.guard.retrying("read the checkpoint heads", || {
            self.sink.task_heads(P::NAME)
        })?;
        let moved: Vec<(Topic, u32)> = heads
            .into_iter()
            .filter(|h| {
                let id = (h.topic, h.partition);
                !proc.owns(&id) && known.get(&id) != Some(&(h.epoch, h.next_offset))
            })
            .map(|h| (h.topic, h.partition))
            .collect();
        if moved.is_empty() {
            return Ok(());
        }
        let stored = self.guard.retrying("load the checkpoints", || {
            self.sink.load_tasks(P::NAME, Some(&moved))
        })?;
        for t in stored {
            proc.set_foreign(&t)?;
        }
        Ok(())
    }

    fn commit<P: Projection>(
        &mut self,
        proc: &mut Processor<P>,
        source: &mut dyn Source,
    ) -> Result<Duration, RunError> {
        let started = Instant::now();
        let plan = proc.prepare_commit()?;
        let prepared = started.elapsed();
        tracing::debug!(
            service = P::NAME,
            prepare_ms = prepared.as_millis() as u64,
            rows = plan.rows(),
            groups = plan.groups.len(),
            checkpoint_bytes = plan
                .tasks
                .iter()
                .filter(|(_, c)| *c)
                .map(|(t, _)| t.bytes.len())
                .sum::<usize>(),
            "commit prepared"
        );
        let observer = self.guard.observer;
        let rows = plan.rows();
        // New dead letters by (topic, code), reported once committed.
        let mut letters_by_code: BTreeMap<(String, String), u64> = BTreeMap::new();
        if observer.is_some() {
            for d in &plan.letters {
                *letters_by_code
                    .entry((d.topic.clone(), d.code.clone()))
                    .or_default() += 1;
            }
        }
        let mut backoff = Backoff::new();
        if let Some(dlq) = self.dlq.as_deref_mut() {
            let letters: Vec<&DeadLetter> = plan.letters.iter().collect();
            if !letters.is_empty() {
                loop {
                    match dlq.send(&letters) {
                        Ok(()) => break,
                        Err(e) => {
                            let delay = backoff.next();
                            tracing::warn!(service = P::NAME, error = %e, retry_in = ?delay, "dead letters not delivered; retrying");
                            self.guard
                                .wait_retry("deliver the dead letters", &e, delay)?;
                        }
                    }
                }
            }
        }
        let commit = Commit {
            groups: &plan.groups,
            tasks: &plan.tasks,
        };
        loop {
            let attempt = Instant::now();
            let result = self.sink.commit(P::NAME, &commit);
            if let Some(o) = observer {
                let message = result.as_ref().err().map(|e| e.to_string());
                o.committed(
                    P::NAME,
                    &CommitReport {
                        duration: attempt.elapsed(),
                        rows,
                        result: message.as_deref().map_or(Ok(()), Err),
                    },
                );
            }
            match result {
                Ok(()) => {
                    tracing::debug!(
                        service = P::NAME,
                        duration_ms = attempt.elapsed().as_secs_f64() * 1e3,
                        rows,
                        state_bytes = plan.tasks.iter().map(|(t, _)| t.bytes.len()).sum::<usize>(),
                        changed_tasks = plan.tasks.iter().filter(|(_, c)| *c).count(),
                        "committed"
                    );
                    proc.mark_committed();
                    if let Some(o) = observer {
                        if !letters_by_code.is_empty() {
                            o.dead_letters(P::NAME, &letters_by_code);
                        }
                    }
                    if let Err(e) = source.commit_hint(&proc.positions()) {
                        // Only a monitoring hint: the checkpoints above are what a restart uses.
                        tracing::warn!(service = P::NAME, error = %e, "could not record the consumer position hint");
                    }
                    return Ok(started.elapsed());
                }
                Err(e) if e.is_retryable() => {
                    // Backpressure: nothing is read while the sink is down, nothing is dropped.
                    let delay = backoff.next();
                    tracing::warn!(service = P::NAME, error = %e, retry_in = ?delay, "commit failed; retrying");
                    self.guard
                        .wait_retry("commit the tables", &e.to_string(), delay)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The wait for the schema registry, with an in-memory source and sink and a writer-schema
    //! source that fails on purpose (the pipeline tests run the same against a real registry).
    use super::*;
    use crate::sink::StoredTask;
    use gigstream_avro::{LookupError, Registry, WriterSchemas};
    use gigstream_core::table::{TableData, TableDef};
    use gigstream_core::{Event, Rejection};
    use serde::{Deserialize, Serialize};
    use std::sync::atomic::AtomicU32;
    use std::sync::Mutex;

    /// Remembers every event it folds, in order.
    #[derive(Debug, Default, Clone, Serialize, Deserialize)]
    struct Seen {
        ids: Vec<String>,
    }

    impl Projection for Seen {
        const NAME: &'static str = "seen";
        fn topics() -> &'static [Topic] {
            &Topic::ALL
        }
        fn table_defs() -> &'static [&'static TableDef] {
            &[]
        }
        fn new(_: &RefData) -> Seen {
            Seen::default()
        }
        fn apply(&mut self, _: &RefData, event: &Event) -> Result<(), Rejection> {
            self.ids.push(event.event_id().to_string());
            Ok(())
        }
        fn merge(&mut self, other: &Seen) {
            self.ids.extend(other.ids.iter().cloned());
        }
        fn tables(&self, _: &RefData) -> Vec<TableData> {
            Vec::new()
        }
    }

    type Rec = (Topic, u32, u64, i64, Vec<u8>);

    /// Partitions in memory, handed out `per_poll` records at a time, round robin.
    struct MemSource {
        parts: BTreeMap<(Topic, u32), Vec<Rec>>,
        pos: BTreeMap<(Topic, u32), u64>,
        per_poll: usize,
    }

    impl Source for MemSource {
        fn take_assignment_changes(&mut self) -> Vec<AssignmentChange> {
            Vec::new()
        }
        fn exclusive(&self) -> bool {
            true
        }
        fn seek(&mut self, p: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError> {
            self.pos = p.clone();
            Ok(())
        }
        fn poll(&mut self, f: &mut dyn FnMut(RecordRef<'_>)) -> Result<usize, SourceError> {
            let mut n = 0;
            'fill: loop {
                let mut any = false;
                for (k, recs) in &self.parts {
                    let at = self.pos.entry(*k).or_default();
                    if let Some((topic, partition, offset, ts, value)) = recs.get(*at as usize) {
                        f(RecordRef {
                            topic: *topic,
                            partition: *partition,
                            offset: *offset,
                            timestamp_ms: *ts,
                            key: b"",
                            value,
                            origin: None,
                        });
                        *at += 1;
                        n += 1;
                        any = true;
                        if n == self.per_poll {
                            break 'fill;
                        }
                    }
                }
                if !any {
                    break;
                }
            }
            Ok(n)
        }
        fn lag(&self) -> Option<u64> {
            None
        }
        fn commit_hint(&mut self, _: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError> {
            Ok(())
        }
    }

    #[derive(Default)]
    struct MemSink {
        tasks: BTreeMap<(Topic, u32), StoredTask>,
        commits: u64,
    }

    impl Sink for MemSink {
        fn load_tasks(
            &mut self,
            _: &str,
            only: Option<&[(Topic, u32)]>,
        ) -> Result<Vec<StoredTask>, SinkError> {
            Ok(self
                .tasks
                .values()
                .filter(|t| only.is_none_or(|o| o.contains(&(t.topic, t.partition))))
                .cloned()
                .collect())
        }
        fn commit(&mut self, _: &str, c: &Commit<'_>) -> Result<(), SinkError> {
            for (t, _) in c.tasks {
                self.tasks.insert((t.topic, t.partition), t.clone());
            }
            self.commits += 1;
            Ok(())
        }
    }

    /// The catalog's schemas under ids 101.. (as a registry assigns them), unreachable for
    /// the first `fails` look-ups (or for good with `u32::MAX`).
    struct Flaky {
        fails: AtomicU32,
        lookups: AtomicU32,
    }

    fn wire_id(catalog_id: u32) -> u32 {
        100 + catalog_id
    }

    impl WriterSchemas for Flaky {
        fn schema_json(&self, id: u32) -> Result<Arc<str>, LookupError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let left = self.fails.load(Ordering::SeqCst);
            if left > 0 {
                if left != u32::MAX {
                    self.fails.store(left - 1, Ordering::SeqCst);
                }
                return Err(LookupError::Unavailable(
                    "cannot connect to 127.0.0.1:1: Connection refused".into(),
                ));
            }
            let catalog = Registry::builtin();
            let text = catalog
                .schema_json(gigstream_avro::SchemaId(id - 100))
                .ok_or(LookupError::NotFound)?;
            Ok(text.into())
        }
        fn describe(&self) -> String {
            "schema registry http://127.0.0.1:1".into()
        }
    }

    #[derive(Default)]
    struct Watch {
        retries: Mutex<Vec<(String, Duration)>>,
        registry: Mutex<Vec<Result<(), String>>>,
        consumed: Mutex<u64>,
    }

    impl RunObserver for Watch {
        fn polled(&self, _: &'static str, batch: &PollBatch) {
            *self.consumed.lock().unwrap() += batch.consumed.iter().sum::<u64>();
        }
        fn retry(&self, _: &'static str, what: &str, _: &str, delay: Duration) {
            self.retries.lock().unwrap().push((what.to_string(), delay));
        }
        fn schema_registry(&self, _: &'static str, result: Result<(), &str>) {
            self.registry
                .lock()
                .unwrap()
                .push(result.map_err(str::to_string));
        }
    }

    /// Generated events, Confluent-framed with the registry ids, in 4 partitions per topic.
    fn records() -> (MemSource, Vec<String>) {
        let refdata = RefData::builtin();
        let cfg = gigstream_gen::GenConfig {
            events: 600,
            days: 3,
            ..Default::default()
        };
        let generated = gigstream_gen::generate(&cfg, &refdata);
        let codec = Codec::new(Registry::builtin());
        let mut parts: BTreeMap<(Topic, u32), Vec<Rec>> = BTreeMap::new();
        let mut ids = Vec::new();
        for g in &generated {
            let topic = g.event.topic();
            let partition = gigstream_core::partition::partition_for(g.event.key().as_bytes(), 4);
            let latest = codec.registry().latest(topic);
            let mut value = Vec::new();
            codec
                .encode_confluent_as(&g.event, latest, wire_id(latest.0), &mut value)
                .unwrap();
            let part = parts.entry((topic, partition)).or_default();
            let offset = part.len() as u64;
            part.push((topic, partition, offset, g.append_ts, value));
            ids.push(g.event.event_id().to_string());
        }
        ids.sort();
        let source = MemSource {
            parts,
            pos: BTreeMap::new(),
            per_poll: 50,
        };
        (source, ids)
    }

    fn run_with(
        fails: u32,
        stop_after: Option<Duration>,
    ) -> (
        Result<RunSummary, RunError>,
        MemSink,
        Watch,
        Vec<String>,
        u64,
    ) {
        let (mut source, ids) = records();
        let total: u64 = source.parts.values().map(|p| p.len() as u64).sum();
        let flaky = Arc::new(Flaky {
            fails: AtomicU32::new(fails),
            lookups: AtomicU32::new(0),
        });
        let codec = Codec::new(Registry::builtin()).with_writer_schemas(flaky);
        let mut sink = MemSink::default();
        let watch = Watch::default();
        let stop = Arc::new(AtomicBool::new(false));
        if let Some(after) = stop_after {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(after);
                stop.store(true, Ordering::SeqCst);
            });
        }
        let mut pipeline =
            Pipeline::new(codec, Arc::new(RefData::builtin()), &mut source, &mut sink);
        pipeline.observer = Some(&watch);
        let opts = RunOptions {
            shutdown_deadline: Some(Duration::from_secs(5)),
            ..RunOptions::default()
        };
        let result = run::<Seen>(pipeline, &opts, &stop, &mut |_| {});
        (result, sink, watch, ids, total)
    }

    /// The events folded by the committed checkpoints, sorted; dead letters; positions.
    fn committed(sink: &MemSink) -> (Vec<String>, usize, BTreeMap<(Topic, u32), u64>) {
        let mut ids = Vec::new();
        let mut letters = 0;
        let mut positions = BTreeMap::new();
        for t in sink.tasks.values() {
            let ck: crate::processor::TaskCheckpoint<Seen> =
                rmp_serde::from_slice(&t.bytes).unwrap();
            ids.extend(ck.state.ids.iter().cloned());
            letters += ck.stats.dead_lettered_total() as usize;
            positions.insert((t.topic, t.partition), t.next_offset);
        }
        ids.sort();
        (ids, letters, positions)
    }

    #[test]
    fn records_wait_for_an_unreachable_registry_then_every_one_counts_once() {
        // The first three look-ups fail: the first records of three partitions wait, with
        // every later record of theirs; the other partitions go on.
        let (result, sink, watch, ids, total) = run_with(3, None);
        let summary = result.unwrap();
        assert_eq!(summary.records, total, "every record handled once");
        assert_eq!(*watch.consumed.lock().unwrap(), total);
        assert_eq!(summary.stats.consumed_total(), total);
        assert_eq!(summary.stats.gaps, 0, "no offset skipped");
        assert_eq!(summary.stats.redelivered, 0);
        assert_eq!(
            summary.stats.dead_lettered_total(),
            0,
            "nothing dead-lettered"
        );
        let (folded, letters, positions) = committed(&sink);
        assert_eq!(letters, 0);
        assert_eq!(folded, ids, "every event folded exactly once");
        let ends: BTreeMap<(Topic, u32), u64> = records()
            .0
            .parts
            .iter()
            .map(|(k, v)| (*k, v.len() as u64))
            .collect();
        assert_eq!(positions, ends);
        let retries = watch.retries.lock().unwrap();
        assert!(!retries.is_empty());
        assert!(
            retries.iter().all(|(w, _)| w == WAIT_SCHEMAS),
            "{retries:?}"
        );
        assert_eq!(
            retries[0].1,
            Duration::from_millis(200),
            "the commit retry's backoff"
        );
        let reg = watch.registry.lock().unwrap();
        assert!(
            reg[0].as_ref().unwrap_err().contains("http://127.0.0.1:1"),
            "{reg:?}"
        );
        assert_eq!(reg.last(), Some(&Ok(())), "ready again at the end");
    }

    #[test]
    fn a_stop_while_waiting_ends_the_run_with_the_waiting_records_unconsumed() {
        let started = Instant::now();
        let (result, sink, watch, _ids, total) =
            run_with(u32::MAX, Some(Duration::from_millis(700)));
        let summary = result.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the stop was seen while waiting: {:?}",
            started.elapsed()
        );
        assert_eq!(summary.records, 0, "nothing could be decoded");
        assert_eq!(summary.stats.dead_lettered_total(), 0);
        let (folded, letters, positions) = committed(&sink);
        assert!(folded.is_empty() && letters == 0);
        assert!(
            positions.values().all(|p| *p == 0),
            "{positions:?} of {total}"
        );
        assert!(!watch.retries.lock().unwrap().is_empty());
        assert!(watch.registry.lock().unwrap().iter().all(|r| r.is_err()));
    }
}
