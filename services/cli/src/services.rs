//! Running the three services over the embedded log, each as an independent consumer with its
//! own committed position, in parallel threads.

use anyhow::{anyhow, Result};
use gigstream_avro::Codec;
use gigstream_billing::Billing;
use gigstream_core::{Projection, RefData};
use gigstream_log::Log;
use gigstream_market::Market;
use gigstream_parquet::ParquetStore;
use gigstream_runtime::service::{DataDir, DEFAULT_PARTITIONS};
use gigstream_runtime::{run, EmbeddedSource, RunOptions, RunSummary};
use gigstream_sla::Sla;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A service by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    Billing,
    Sla,
    Market,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Billing, Service::Sla, Service::Market];

    pub fn name(self) -> &'static str {
        match self {
            Service::Billing => Billing::NAME,
            Service::Sla => Sla::NAME,
            Service::Market => Market::NAME,
        }
    }
}

fn run_one<P: Projection>(
    dirs: &DataDir,
    codec: Codec,
    refdata: Arc<RefData>,
    opts: &RunOptions,
    stop: &AtomicBool,
    bar: &ProgressBar,
) -> Result<RunSummary> {
    let log = Log::open(&dirs.log())?;
    let mut source = EmbeddedSource::new(log, P::NAME, P::topics(), DEFAULT_PARTITIONS)?;
    let mut sink = ParquetStore::new(dirs.tables());
    let summary = run::<P>(
        codec,
        refdata,
        &mut source,
        &mut sink,
        opts,
        stop,
        &mut |p| {
            if let Some(lag) = p.lag {
                bar.set_length(p.records + lag);
            }
            bar.set_position(p.records);
        },
    )?;
    bar.finish_with_message(format!(
        "{} records, {} dead letters, {} duplicates skipped",
        summary.records,
        summary.stats.dead_lettered_total(),
        summary.stats.duplicates
    ));
    Ok(summary)
}

/// Runs `services` in parallel until each has caught up (or until `stop` when following).
pub fn run_services(
    dirs: &DataDir,
    codec: &Codec,
    refdata: &Arc<RefData>,
    services: &[Service],
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &MultiProgress,
) -> Result<Vec<RunSummary>> {
    let style =
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} records {per_sec} {msg}")
            .expect("static progress template is valid")
            .progress_chars("=> ");
    std::thread::scope(|s| {
        let handles: Vec<_> = services
            .iter()
            .map(|&svc| {
                let bar = progress.add(
                    ProgressBar::new(0)
                        .with_style(style.clone())
                        .with_prefix(svc.name()),
                );
                let (codec, refdata) = (codec.clone(), refdata.clone());
                s.spawn(move || match svc {
                    Service::Billing => run_one::<Billing>(dirs, codec, refdata, opts, stop, &bar),
                    Service::Sla => run_one::<Sla>(dirs, codec, refdata, opts, stop, &bar),
                    Service::Market => run_one::<Market>(dirs, codec, refdata, opts, stop, &bar),
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(services)
            .map(|(h, svc)| {
                h.join()
                    .map_err(|_| anyhow!("the {} service thread panicked", svc.name()))?
                    .map_err(|e| e.context(format!("the {} service failed", svc.name())))
            })
            .collect()
    })
}
