//! The service loop: poll, process, commit periodically and at the end, stop on request.

use crate::dead_letter::DeadLetter;
use crate::processor::{Outcome, Processor, ProcessorError, Stats};
use crate::sink::{Commit, Sink, SinkError};
use crate::source::{AssignmentChange, Source, SourceError};
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
        self.consumed[i] += 1;
        let slot = match outcome {
            Outcome::Applied => &mut self.applied,
            Outcome::Duplicate => &mut self.duplicates,
            Outcome::Redelivered => &mut self.redelivered,
            Outcome::DeadLettered => &mut self.dead_lettered,
        };
        slot[i] += 1;
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
    /// A failed operation will be retried after `delay`.
    fn retry(&self, _service: &'static str, _what: &str, _error: &str, _delay: Duration) {}
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

/// Runs projection `P` from its last commit until caught up (or until `stop` in follow mode),
/// committing tables with the task checkpoints along the way and at the end.
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
        let n = source.poll(&mut |rec| {
            let outcome = proc.process(rec);
            batch.count(rec.topic, outcome);
        })? as u64;
        if let Some(o) = guard.observer {
            if n > 0 {
                o.polled(P::NAME, &batch);
            }
        }
        records += n;
        since_commit += n;
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
        if due || (n == 0 && proc.needs_commit()) {
            if !source.exclusive() {
                ctx.refresh_foreign(&mut proc)?;
            }
            commit_time += ctx.commit(&mut proc, source)?;
            commits += 1;
            since_commit = 0;
            last_commit = Instant::now();
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
