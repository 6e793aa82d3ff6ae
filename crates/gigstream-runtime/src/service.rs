//! What every command that runs services shares: the data directory, reference data, logging
//! and the stop signal. (The service binaries' `main` is in `gigstream-service`.)

use gigstream_core::RefData;
use std::path::PathBuf;
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

/// Sets `stop` on SIGINT/SIGTERM so the loop commits and exits cleanly.
pub fn install_stop_handler(stop: Arc<AtomicBool>) {
    let _ = ctrlc::set_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
}
