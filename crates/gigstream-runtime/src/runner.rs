//! The service loop: poll, process, commit periodically and at the end, stop on request.

use crate::processor::{Processor, ProcessorError, Stats};
use crate::sink::{Sink, SinkError};
use crate::source::{Source, SourceError};
use gigstream_avro::Codec;
use gigstream_core::{Projection, RefData};
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

/// Runs projection `P` from its last commit until caught up (or until `stop` in follow mode),
/// committing tables with positions along the way and at the end.
pub fn run<P: Projection>(
    codec: Codec,
    refdata: Arc<RefData>,
    source: &mut dyn Source,
    sink: &mut dyn Sink,
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let mut proc: Processor<P> = match sink.load_checkpoint(P::NAME)? {
        Some(bytes) => Processor::restore(codec, refdata, &bytes)?,
        None => Processor::new(codec, refdata),
    };
    source.seek(&proc.positions())?;
    let mut records = 0u64;
    let mut since_commit = 0u64;
    let mut last_commit = Instant::now();
    let mut commits = 0u64;
    let mut last_progress = Instant::now();
    let mut dirty = false;
    let mut commit_time = Duration::ZERO;
    while !stop.load(Ordering::Relaxed) {
        let n = source.poll(&mut |rec| {
            proc.process(rec);
        })? as u64;
        records += n;
        since_commit += n;
        dirty |= n > 0;
        if last_progress.elapsed() > Duration::from_millis(250) {
            progress(Progress {
                records,
                lag: source.lag(),
            });
            last_progress = Instant::now();
        }
        if since_commit >= opts.commit_every_records
            || (dirty && last_commit.elapsed() >= opts.commit_interval)
        {
            commit_time += commit(&proc, sink, source)?;
            commits += 1;
            since_commit = 0;
            dirty = false;
            last_commit = Instant::now();
        }
        if n == 0 {
            if !opts.follow {
                break;
            }
            if dirty {
                commit_time += commit(&proc, sink, source)?;
                commits += 1;
                since_commit = 0;
                dirty = false;
                last_commit = Instant::now();
            }
            std::thread::sleep(opts.idle_wait);
        }
    }
    // The first run commits even with no input, so every table exists for SQL.
    if dirty || commits == 0 {
        commit_time += commit(&proc, sink, source)?;
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
        stats: proc.stats().clone(),
    })
}

fn commit<P: Projection>(
    proc: &Processor<P>,
    sink: &mut dyn Sink,
    source: &mut dyn Source,
) -> Result<Duration, RunError> {
    let started = Instant::now();
    let tables = proc.tables();
    let rendered = started.elapsed();
    let ck = proc.checkpoint_bytes();
    tracing::debug!(
        service = P::NAME,
        render_ms = rendered.as_millis() as u64,
        checkpoint_ms = (started.elapsed() - rendered).as_millis() as u64,
        checkpoint_bytes = ck.len(),
        "commit prepared"
    );
    let mut delay = Duration::from_millis(200);
    loop {
        match sink.commit(P::NAME, &tables, &ck) {
            Ok(()) => {
                if let Err(e) = source.commit_hint(&proc.positions()) {
                    // Only a monitoring hint: the checkpoint above is what a restart uses.
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
