//! The shared `main` of the service binaries (`gigstream-billing`, `gigstream-sla`,
//! `gigstream-market`): parse arguments, set up logging, run one projection over the embedded
//! log until caught up (or follow it), exit non-zero with a clear message on failure.

use crate::runner::{run, RunOptions};
use crate::source::EmbeddedSource;
use gigstream_avro::{Codec, Registry};
use gigstream_core::{Projection, RefData};
use gigstream_log::Log;
use gigstream_parquet::ParquetStore;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Where a service reads and writes, shared by every command.
#[derive(Debug, Clone)]
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    /// `--data-dir`, else `GIGSTREAM_DATA_DIR`, else `./data`.
    pub fn resolve(arg: Option<PathBuf>) -> DataDir {
        let root = arg
            .or_else(|| std::env::var_os("GIGSTREAM_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("data"));
        DataDir { root }
    }
    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn tables(&self) -> PathBuf {
        self.root.join("tables")
    }
}

/// Reference data from `dir` (or `GIGSTREAM_REFERENCE_DIR`), else the built-in files.
pub fn load_refdata(
    dir: Option<PathBuf>,
) -> Result<Arc<RefData>, gigstream_core::refdata::RefDataError> {
    let dir = dir.or_else(|| std::env::var_os("GIGSTREAM_REFERENCE_DIR").map(PathBuf::from));
    RefData::load(dir.as_deref()).map(Arc::new)
}

/// Default partitions of topics the embedded log creates on first use.
pub const DEFAULT_PARTITIONS: u32 = 4;

/// Installs the `tracing` subscriber: human-readable to stderr, JSON when
/// `GIGSTREAM_LOG_FORMAT=json`; level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("GIGSTREAM_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn usage(name: &str) -> String {
    format!(
        "usage: {name} [--data-dir DIR] [--reference-dir DIR] [--follow]\n\n\
         Runs the {svc} service over the embedded event log in DIR/log (default ./data, or\n\
         GIGSTREAM_DATA_DIR) and writes its tables to DIR/tables. Without --follow it stops when\n\
         caught up; with it, it keeps reading until interrupted (Ctrl-C / SIGTERM).",
        svc = name.trim_start_matches("gigstream-")
    )
}

/// `main` of a service binary.
pub fn service_main<P: Projection>() -> ExitCode {
    let name = format!("gigstream-{}", P::NAME);
    let mut data_dir = None;
    let mut reference_dir = None;
    let mut follow = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => data_dir = args.next().map(PathBuf::from),
            "--reference-dir" => reference_dir = args.next().map(PathBuf::from),
            "--follow" => follow = true,
            "-h" | "--help" => {
                println!("{}", usage(&name));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("{name}: unknown argument '{other}'\n\n{}", usage(&name));
                return ExitCode::from(2);
            }
        }
    }
    init_tracing();
    let dirs = DataDir::resolve(data_dir);
    let result = (|| -> Result<crate::RunSummary, String> {
        let refdata = load_refdata(reference_dir).map_err(|e| e.to_string())?;
        let codec = Codec::new(Registry::builtin());
        let log = Log::open(&dirs.log()).map_err(|e| e.to_string())?;
        let mut source = EmbeddedSource::new(log, P::NAME, P::topics(), DEFAULT_PARTITIONS)
            .map_err(|e| e.to_string())?;
        let mut sink = ParquetStore::new(dirs.tables());
        let stop = Arc::new(AtomicBool::new(false));
        install_stop_handler(stop.clone());
        let opts = RunOptions {
            follow,
            ..RunOptions::default()
        };
        run::<P>(
            codec,
            refdata,
            &mut source,
            &mut sink,
            &opts,
            &stop,
            &mut |p| {
                tracing::debug!(records = p.records, lag = ?p.lag, "progress");
            },
        )
        .map_err(|e| e.to_string())
    })();
    match result {
        Ok(s) => {
            tracing::info!(
                service = P::NAME,
                records = s.records,
                applied = s.stats.applied_total(),
                duplicates = s.stats.duplicates,
                dead_lettered = s.stats.dead_lettered_total(),
                elapsed_ms = s.elapsed.as_millis() as u64,
                "caught up; tables committed"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sets `stop` on SIGINT/SIGTERM so the loop commits and exits cleanly.
pub fn install_stop_handler(stop: Arc<AtomicBool>) {
    let _ = ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
}
