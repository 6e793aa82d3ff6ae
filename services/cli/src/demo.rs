//! `gigstream demo`, the main job: generate a realistic stream into the embedded log (once per
//! data directory), run the three services as independent consumers, print a summary.

use crate::gen_cmd::{self, GenManifest, WireEncoding};
use crate::services::{run_services, Service};
use anyhow::{bail, Context, Result};
use gigstream_avro::Codec;
use gigstream_config::DataDir;
use gigstream_core::RefData;
use gigstream_core::DEFAULT_PARTITIONS;
use gigstream_gen::GenConfig;
use gigstream_log::Log;
use gigstream_runtime::RunOptions;
use indicatif::MultiProgress;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// Makes sure the log holds exactly the stream `cfg` describes, generating it when empty.
pub fn ensure_stream(
    dirs: &DataDir,
    codec: &Codec,
    refdata: &RefData,
    cfg: &GenConfig,
) -> Result<GenManifest> {
    let log_dir = dirs.log();
    if let Some(m) = GenManifest::load(&log_dir)? {
        if m.matches(cfg, WireEncoding::Confluent) {
            eprintln!(
                "the log in {} already holds this stream (seed {}, {} records): reusing it",
                log_dir.display(),
                m.seed,
                m.records
            );
            return Ok(m);
        }
        bail!(
            "the log in {} holds another stream (seed {}, {} events, {} days); run with --reset to replace it, or use another --data-dir",
            log_dir.display(),
            m.seed,
            m.events,
            m.days
        );
    }
    if log_dir.exists() {
        let log = Log::open(&log_dir)?;
        let mut records = 0;
        for t in log.topics()? {
            for p in 0..log.partitions(&t)? {
                records += log.end_offset(&t, p)?;
            }
        }
        if records > 0 {
            bail!(
                "the log in {} already holds {records} records not written by the demo; use another --data-dir or --reset",
                log_dir.display()
            );
        }
    }
    let t = Instant::now();
    let records = gen_cmd::generate_records(cfg, refdata)?;
    let m = gen_cmd::write_log(
        &log_dir,
        codec,
        cfg,
        &records,
        WireEncoding::Confluent,
        DEFAULT_PARTITIONS,
    )?;
    eprintln!(
        "generated {} records ({} made invalid on purpose) into {} in {:.1}s",
        m.records,
        m.injected_total(),
        log_dir.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(m)
}

/// The whole demo.
pub fn run(
    dirs: &DataDir,
    codec: &Codec,
    refdata: &Arc<RefData>,
    cfg: &GenConfig,
    reset: bool,
) -> Result<()> {
    if reset {
        for d in [dirs.log(), dirs.tables()] {
            if d.exists() {
                std::fs::remove_dir_all(&d)
                    .with_context(|| format!("cannot remove {}", d.display()))?;
            }
        }
    }
    ensure_stream(dirs, codec, refdata, cfg)?;
    let t = Instant::now();
    let stop = AtomicBool::new(false);
    let summaries = run_services(
        dirs,
        codec,
        refdata,
        &Service::ALL,
        &RunOptions::default(),
        &stop,
        &MultiProgress::new(),
    )?;
    eprintln!("services caught up in {:.1}s", t.elapsed().as_secs_f64());
    for s in &summaries {
        eprintln!(
            "  {:<8} {:>9} records this run; since start: {} applied, {} duplicates skipped, {} dead letters",
            s.service,
            s.records,
            s.stats.applied_total(),
            s.stats.duplicates,
            s.stats.dead_lettered_total()
        );
    }
    print!("{}", crate::summary::render(&dirs.tables())?);
    Ok(())
}
