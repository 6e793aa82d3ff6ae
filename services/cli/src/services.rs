//! Running services in parallel threads of one process, each an independent consumer with its
//! own stored positions: over the embedded log into Parquet by default, or Kafka into
//! ClickHouse when those are configured.

use anyhow::{anyhow, Result};
use gigstream_avro::Codec;
use gigstream_billing::Billing;
use gigstream_config::DataDir;
use gigstream_core::{Projection, RefData, Topic};
use gigstream_host::{run_service, Backends, ServiceRun};
use gigstream_market::Market;
use gigstream_runtime::{RunOptions, RunSummary};
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

    /// The topics the service reads.
    pub fn topics(self) -> &'static [Topic] {
        match self {
            Service::Billing => Billing::topics(),
            Service::Sla => Sla::topics(),
            Service::Market => Market::topics(),
        }
    }
}

fn run_one<P: Projection>(
    run: &ServiceRun<'_>,
    stop: &AtomicBool,
    bar: &ProgressBar,
) -> Result<RunSummary> {
    let summary = run_service::<P>(run, stop, &mut |p| {
        if let Some(lag) = p.lag {
            bar.set_length(p.records + lag);
        }
        bar.set_position(p.records);
    })?;
    bar.finish_with_message(format!(
        "{} records, {} dead letters, {} duplicates skipped",
        summary.records,
        summary.stats.dead_lettered_total(),
        summary.stats.duplicates
    ));
    Ok(summary)
}

/// Runs `services` over the embedded log into the Parquet tables of `dirs`, in parallel, until
/// each has caught up (or until `stop` when following).
pub fn run_services(
    dirs: &DataDir,
    codec: &Codec,
    refdata: &Arc<RefData>,
    services: &[Service],
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &MultiProgress,
) -> Result<Vec<RunSummary>> {
    let backends = Backends::embedded(dirs.clone());
    let run = ServiceRun {
        backends: &backends,
        options: opts.clone(),
        codec: codec.clone(),
        refdata: refdata.clone(),
        observer: None,
    };
    run_services_on(&run, services, stop, progress)
}

/// Runs `services` in parallel, each as `run` says (the embedded log and Parquet, or Kafka and
/// ClickHouse; the observer and the shutdown deadline apply to every service), until each has
/// caught up (or until `stop` when following).
pub fn run_services_on(
    run: &ServiceRun<'_>,
    services: &[Service],
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
                s.spawn(move || match svc {
                    Service::Billing => run_one::<Billing>(run, stop, &bar),
                    Service::Sla => run_one::<Sla>(run, stop, &bar),
                    Service::Market => run_one::<Market>(run, stop, &bar),
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

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_host::dead_letter_publisher;

    #[test]
    fn each_topic_s_dead_letter_publisher_reads_it() {
        for t in Topic::ALL {
            let publisher = dead_letter_publisher(t);
            assert!(
                Service::ALL
                    .iter()
                    .any(|s| s.name() == publisher && s.topics().contains(&t)),
                "{publisher} does not read {t}"
            );
        }
    }
}
