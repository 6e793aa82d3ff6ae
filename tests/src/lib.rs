//! Helpers for the end-to-end tests in `tests/tests/it/`: build a data directory from a generated
//! stream, run the services, and read every table back through `gigstream sql`.

use anyhow::Result;
use gigstream_avro::{Codec, Registry};
use gigstream_cli::gen_cmd::{self, GenManifest, WireEncoding};
use gigstream_cli::services::{run_services, Service};
use gigstream_cli::sql::{self, Format};
use gigstream_config::DataDir;
use gigstream_core::RefData;
use gigstream_gen::GenConfig;
use gigstream_runtime::{RunOptions, RunSummary};
use indicatif_free::hidden;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

mod indicatif_free {
    /// Progress bars drawn nowhere, so test output stays readable.
    pub fn hidden() -> indicatif::MultiProgress {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    }
}

pub fn refdata() -> Arc<RefData> {
    Arc::new(RefData::builtin())
}

pub fn codec() -> Codec {
    Codec::new(Registry::builtin())
}

/// Generates `cfg` into the data directory's log.
pub fn generate(dir: &Path, cfg: &GenConfig) -> Result<GenManifest> {
    let records = gigstream_gen::generate(cfg, &refdata());
    gen_cmd::write_log(
        &DataDir::new(dir).log(),
        &codec(),
        cfg,
        &records,
        WireEncoding::Confluent,
        4,
    )
}

/// Runs the given services until caught up.
pub fn run(dir: &Path, services: &[Service], opts: &RunOptions) -> Result<Vec<RunSummary>> {
    let stop = AtomicBool::new(false);
    run_services(
        &DataDir::new(dir),
        &codec(),
        &refdata(),
        services,
        opts,
        &stop,
        &hidden(),
    )
}

/// Every committed table's content as sorted CSV lines, by table name.
pub fn snapshot(dir: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let tables_dir = DataDir::new(dir).tables();
    let names = gigstream_parquet::committed_tables(&tables_dir)?;
    let mut out = BTreeMap::new();
    for name in names.keys() {
        let csv = sql::run(&tables_dir, &format!("SELECT * FROM {name}"), Format::Csv)?;
        let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
        lines.sort();
        out.insert(name.clone(), lines);
    }
    Ok(out)
}

/// A small but complete stream for tests.
pub fn small_config(events: u64, bad_ratio: f64) -> GenConfig {
    GenConfig {
        events,
        days: 60,
        seed: 11,
        bad_ratio,
        ..GenConfig::default()
    }
}

/// A sink that commits `limit` times and then fails as a crashed process would: nothing after
/// the last commit reaches disk.
struct CrashingSink {
    inner: gigstream_parquet::ParquetStore,
    left: u32,
}

impl gigstream_runtime::Sink for CrashingSink {
    fn load_tasks(
        &mut self,
        service: &str,
        only: Option<&[(gigstream_core::Topic, u32)]>,
    ) -> Result<Vec<gigstream_runtime::StoredTask>, gigstream_runtime::SinkError> {
        gigstream_runtime::Sink::load_tasks(&mut self.inner, service, only)
    }

    fn commit(
        &mut self,
        service: &str,
        commit: &gigstream_runtime::Commit<'_>,
    ) -> Result<(), gigstream_runtime::SinkError> {
        if self.left == 0 {
            return Err(gigstream_runtime::SinkError::Other {
                message: "simulated crash".into(),
                retryable: false,
            });
        }
        self.left -= 1;
        gigstream_runtime::Sink::commit(&mut self.inner, service, commit)
    }
}

fn crash_one<P: gigstream_core::Projection>(
    dir: &Path,
    opts: &RunOptions,
    commits: u32,
) -> Result<()> {
    let dirs = DataDir::new(dir);
    let log = gigstream_log::Log::open(&dirs.log())?;
    let mut source = gigstream_log::EmbeddedSource::new(log, P::NAME, P::topics(), 4)?;
    let mut sink = CrashingSink {
        inner: gigstream_parquet::ParquetStore::new(dirs.tables()),
        left: commits,
    };
    let stop = AtomicBool::new(false);
    let pipeline = gigstream_runtime::Pipeline::new(codec(), refdata(), &mut source, &mut sink);
    match gigstream_runtime::run::<P>(pipeline, opts, &stop, &mut |_| {}) {
        Err(e) if e.to_string().contains("simulated crash") => Ok(()),
        Err(e) => Err(e.into()),
        Ok(_) => anyhow::bail!("the run finished before the simulated crash; give fewer commits"),
    }
}

/// Runs `svc` until its sink has committed `commits` times, then fails the next commit.
pub fn crash_after_commits(
    dir: &Path,
    svc: Service,
    opts: &RunOptions,
    commits: u32,
) -> Result<()> {
    match svc {
        Service::Billing => crash_one::<gigstream_billing::Billing>(dir, opts, commits),
        Service::Sla => crash_one::<gigstream_sla::Sla>(dir, opts, commits),
        Service::Market => crash_one::<gigstream_market::Market>(dir, opts, commits),
    }
}
