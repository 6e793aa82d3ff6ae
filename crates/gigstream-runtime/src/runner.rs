//! The service loop: poll, process, commit periodically and at the end, stop on request.

use crate::dead_letter::DeadLetter;
use crate::processor::{Processor, ProcessorError, Stats};
use crate::sink::{Commit, Sink, SinkError};
use crate::source::{AssignmentChange, Source, SourceError};
use gigstream_avro::Codec;
use gigstream_core::{Projection, RefData, Topic};
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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            follow: false,
            commit_every_records: 5_000_000,
            commit_interval: Duration::from_secs(30),
            idle_wait: Duration::from_millis(200),
        }
    }
}

/// Progress reported while running.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub records: u64,
    pub lag: Option<u64>,
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

/// Runs projection `P` from its last commit until caught up (or until `stop` in follow mode),
/// committing tables with the task checkpoints along the way and at the end.
pub fn run<P: Projection>(
    codec: Codec,
    refdata: Arc<RefData>,
    source: &mut dyn Source,
    sink: &mut dyn Sink,
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    run_with::<P>(codec, refdata, source, sink, None, opts, stop, progress)
}

/// [`run`] with an extra output for dead letters.
#[allow(clippy::too_many_arguments)]
pub fn run_with<P: Projection>(
    codec: Codec,
    refdata: Arc<RefData>,
    source: &mut dyn Source,
    sink: &mut dyn Sink,
    dlq: Option<&mut dyn DeadLetterOutput>,
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let mut proc: Processor<P> = Processor::new(codec, refdata);
    // Everything stored starts as another instance's; assignments adopt what is ours.
    let stored = retrying(P::NAME, "load the checkpoints", || {
        sink.load_tasks(P::NAME, None)
    })?;
    let first_run = stored.is_empty();
    for t in &stored {
        proc.set_foreign(t)?;
    }
    drop(stored);
    // The stored tables already reflect the stored checkpoints (or more, after a crash between
    // the two): nothing to render until something moves.
    proc.mark_committed();
    let mut records = 0u64;
    let mut since_commit = 0u64;
    let mut last_commit = Instant::now();
    let mut commits = 0u64;
    let mut last_progress = Instant::now();
    let mut commit_time = Duration::ZERO;
    let mut ctx = CommitCtx { sink, dlq };
    let mut pending: Vec<AssignmentChange> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        pending.extend(source.take_assignment_changes());
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
                    let stored = retrying(P::NAME, "load the checkpoints", || {
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
        let n = source.poll(&mut |rec| {
            proc.process(rec);
        })? as u64;
        records += n;
        since_commit += n;
        if last_progress.elapsed() > Duration::from_millis(250) {
            progress(Progress {
                records,
                lag: source.lag(),
            });
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
    progress(Progress {
        records,
        lag: source.lag(),
    });
    Ok(RunSummary {
        service: P::NAME,
        records,
        commits,
        elapsed: started.elapsed(),
        commit_time,
        stats: proc.stats(),
    })
}

/// Runs `f` until it succeeds or fails for good: while the sink is unreachable (a retryable
/// error) it waits with exponential backoff (200 ms up to 30 s) and says so in the log.
fn retrying<T>(
    service: &str,
    what: &str,
    mut f: impl FnMut() -> Result<T, SinkError>,
) -> Result<T, RunError> {
    let mut delay = Duration::from_millis(200);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() => {
                tracing::warn!(service, error = %e, retry_in = ?delay, "cannot {what}; retrying");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

struct CommitCtx<'a, 'b> {
    sink: &'a mut dyn Sink,
    dlq: Option<&'b mut dyn DeadLetterOutput>,
}

impl CommitCtx<'_, '_> {
    /// Loads the checkpoints other instances committed since we last looked.
    fn refresh_foreign<P: Projection>(&mut self, proc: &mut Processor<P>) -> Result<(), RunError> {
        let known = proc.foreign_heads();
        let heads = retrying(P::NAME, "read the checkpoint heads", || {
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
        let stored = retrying(P::NAME, "load the checkpoints", || {
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
        let tables = proc.tables();
        let rendered = started.elapsed();
        let tasks = proc.task_checkpoints();
        let version = proc.version();
        tracing::debug!(
            service = P::NAME,
            version,
            render_ms = rendered.as_millis() as u64,
            checkpoint_ms = (started.elapsed() - rendered).as_millis() as u64,
            checkpoint_bytes = tasks.iter().map(|(t, _)| t.bytes.len()).sum::<usize>(),
            "commit prepared"
        );
        let mut delay = Duration::from_millis(200);
        if let Some(dlq) = self.dlq.as_deref_mut() {
            let letters = proc.unsent_dead_letters();
            if !letters.is_empty() {
                loop {
                    match dlq.send(&letters) {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::warn!(service = P::NAME, error = %e, retry_in = ?delay, "dead letters not delivered; retrying");
                            std::thread::sleep(delay);
                            delay = (delay * 2).min(Duration::from_secs(30));
                        }
                    }
                }
            }
        }
        let commit = Commit {
            version,
            tables: &tables,
            tasks: &tasks,
        };
        loop {
            match self.sink.commit(P::NAME, &commit) {
                Ok(()) => {
                    proc.mark_dead_letters_sent();
                    proc.mark_committed();
                    if let Err(e) = source.commit_hint(&proc.positions()) {
                        // Only a monitoring hint: the checkpoints above are what a restart uses.
                        tracing::warn!(service = P::NAME, error = %e, "could not record the consumer position hint");
                    }
                    return Ok(started.elapsed());
                }
                Err(e) if e.is_retryable() => {
                    // Backpressure: nothing is read while the sink is down, nothing is dropped.
                    tracing::warn!(service = P::NAME, error = %e, retry_in = ?delay, "commit failed; retrying");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
