//! `gigstream gen`: writes a generated stream to the embedded log, JSON-lines files or Avro
//! object container files.
//!
//! Invalid events come from the generator (`--bad-ratio`: negative amounts, unknown currency or
//! platform, future timestamps, empty ids, too late). On top of those, every fifth injected
//! record is damaged on the wire instead, so the decoders' failures are exercised too: a wrong
//! magic byte, an unknown schema id, truncated Avro, broken JSON.

use anyhow::{bail, Context, Result};
use gigstream_avro::{Codec, Encoding};
use gigstream_core::{Event, RefData, Topic};
use gigstream_gen::{generate, GenConfig, Generated};
use gigstream_log::Log;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where generated events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// The embedded event log in the data directory.
    Log,
    /// One JSON-lines file per topic.
    Jsonl,
    /// One Avro object container file per topic.
    Avro,
}

/// Wire encoding of records written to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum WireEncoding {
    /// Confluent wire format: magic 0 + schema id + Avro binary.
    Confluent,
    /// Avro single-object encoding: C3 01 + schema fingerprint + Avro binary.
    SingleObject,
    /// One JSON document per record.
    Json,
}

impl WireEncoding {
    fn codec_encoding(self) -> Encoding {
        match self {
            WireEncoding::Confluent => Encoding::Confluent,
            WireEncoding::SingleObject => Encoding::SingleObject,
            WireEncoding::Json => Encoding::JsonLines,
        }
    }
}

/// What a generation wrote into a log; kept beside the log so a rerun can recognise it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenManifest {
    pub seed: u64,
    pub events: u64,
    pub days: u32,
    pub end: String,
    pub bad_ratio: f64,
    pub encoding: WireEncoding,
    /// Records appended.
    pub records: u64,
    /// Records made invalid on purpose: topic → kind → count.
    pub injected: BTreeMap<String, BTreeMap<String, u64>>,
}

impl GenManifest {
    /// Records made invalid on purpose, all topics and kinds.
    pub fn injected_total(&self) -> u64 {
        self.injected.values().flat_map(|m| m.values()).sum()
    }

    pub fn path(log_dir: &Path) -> PathBuf {
        log_dir.join("GENERATED.json")
    }

    pub fn load(log_dir: &Path) -> Result<Option<GenManifest>> {
        let p = Self::path(log_dir);
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(
                serde_json::from_slice(&b)
                    .with_context(|| format!("{} is damaged", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
        }
    }

    /// Whether this manifest describes the generation `cfg` would produce.
    pub fn matches(&self, cfg: &GenConfig, encoding: WireEncoding) -> bool {
        self.seed == cfg.seed
            && self.events == cfg.events
            && self.days == cfg.days
            && self.end == cfg.end.to_string()
            && self.bad_ratio == cfg.bad_ratio
            && self.encoding == encoding
    }
}

/// The dead-letter code a service gives a record damaged with `kind` (the names in a
/// manifest's `injected` counts); `None` for a kind this version does not inject.
pub fn dead_letter_code(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "negative_amount" => "negative_amount",
        "unknown_currency" => "unknown_currency",
        "unknown_platform" => "unknown_platform",
        "future_timestamp" => "future_timestamp",
        "missing_field" => "missing_field",
        "too_late" => "late",
        "wire_bad_magic" => "bad_magic",
        "wire_unknown_schema" => "unknown_schema",
        "wire_truncated" => "truncated",
        "wire_invalid_json" => "invalid_json",
        _ => return None,
    })
}

fn wire_damage(i: u64, topic: Topic, bytes: &mut Vec<u8>) -> &'static str {
    match i % 4 {
        0 => {
            bytes[0] = 0x07;
            "wire_bad_magic"
        }
        1 => {
            if bytes.first() == Some(&0) && bytes.len() > 5 {
                bytes[1..5].copy_from_slice(&9999u32.to_be_bytes());
            } else {
                bytes.clear();
                bytes.extend_from_slice(&[0, 0, 0, 0x27, 0x0f, 2]);
            }
            "wire_unknown_schema"
        }
        2 => {
            let keep = (bytes.len() / 2).max(6).min(bytes.len());
            bytes.truncate(keep);
            "wire_truncated"
        }
        _ => {
            bytes.clear();
            bytes.extend_from_slice(
                format!(
                    "{{\"event_id\": \"broken-{i}\", \"{}\": ",
                    topic.key_field()
                )
                .as_bytes(),
            );
            "wire_invalid_json"
        }
    }
}

/// Encodes generated records: `(topic, key, value, append_ts)`, with the injected kinds counted
/// per topic.
pub fn encode_all(
    codec: &Codec,
    records: &[Generated],
    encoding: WireEncoding,
    mut each: impl FnMut(Topic, &[u8], &[u8], i64) -> Result<()>,
) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let mut injected = BTreeMap::new();
    let mut buf = Vec::with_capacity(512);
    let mut bad_seen = 0u64;
    for g in records {
        buf.clear();
        codec
            .encode(&g.event, encoding.codec_encoding(), &mut buf)
            .with_context(|| format!("cannot encode generated event {}", g.event.event_id()))?;
        if let Some(kind) = g.bad {
            bad_seen += 1;
            let label = if bad_seen.is_multiple_of(5) {
                wire_damage(bad_seen / 5, g.event.topic(), &mut buf)
            } else {
                kind.as_str()
            };
            let per_topic: &mut BTreeMap<String, u64> = injected
                .entry(g.event.topic().name().to_string())
                .or_default();
            *per_topic.entry(label.to_string()).or_insert(0) += 1;
        }
        each(g.event.topic(), g.event.key().as_bytes(), &buf, g.append_ts)?;
    }
    Ok(injected)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    ProgressBar::new(len).with_style(
        ProgressStyle::with_template(&format!(
            "{what:>9} [{{bar:30}}] {{pos}}/{{len}} {{per_sec}}"
        ))
        .expect("static progress template is valid")
        .progress_chars("=> "),
    )
}

/// Generates with a progress spinner (generation itself is a single step).
pub fn generate_records(cfg: &GenConfig, refdata: &RefData) -> Result<Vec<Generated>> {
    cfg.check()?;
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "generating ~{} events over {} days (seed {})",
        cfg.events, cfg.days, cfg.seed
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let records = generate(cfg, refdata);
    spinner.finish_and_clear();
    Ok(records)
}

/// Appends generated records to the embedded log and writes the manifest.
pub fn write_log(
    log_dir: &Path,
    codec: &Codec,
    cfg: &GenConfig,
    records: &[Generated],
    encoding: WireEncoding,
    partitions: u32,
) -> Result<GenManifest> {
    let log = Log::open(log_dir)?;
    for t in Topic::ALL {
        log.create_topic(t.name(), partitions)?;
    }
    let mut producer = log.producer()?;
    let pb = bar(records.len() as u64, "appending");
    let mut n = 0u64;
    let injected = encode_all(codec, records, encoding, |topic, key, value, ts| {
        producer.send(topic.name(), key, value, ts, &[])?;
        n += 1;
        if n.is_multiple_of(16_384) {
            pb.set_position(n);
        }
        Ok(())
    })?;
    producer.flush()?;
    pb.finish_and_clear();
    let manifest = GenManifest {
        seed: cfg.seed,
        events: cfg.events,
        days: cfg.days,
        end: cfg.end.to_string(),
        bad_ratio: cfg.bad_ratio,
        encoding,
        records: n,
        injected,
    };
    let p = GenManifest::path(log_dir);
    std::fs::write(&p, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("cannot write {}", p.display()))?;
    Ok(manifest)
}

/// Writes one file per topic (`orders.jsonl` / `orders.avro`, ...) into `dir`.
pub fn write_files(
    dir: &Path,
    codec: &Codec,
    records: &[Generated],
    output: Output,
) -> Result<BTreeMap<Topic, u64>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut by_topic: BTreeMap<Topic, Vec<&Event>> = BTreeMap::new();
    for g in records {
        by_topic.entry(g.event.topic()).or_default().push(&g.event);
    }
    let mut counts = BTreeMap::new();
    for (topic, events) in by_topic {
        let path = dir.join(format!(
            "{}.{}",
            topic.name(),
            if output == Output::Avro {
                "avro"
            } else {
                "jsonl"
            }
        ));
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = BufWriter::new(file);
        match output {
            Output::Avro => {
                codec.write_container(
                    topic,
                    codec.registry().latest(topic),
                    events.iter().copied(),
                    &mut w,
                )?;
            }
            Output::Jsonl => {
                for e in &events {
                    serde_json::to_writer(&mut w, e)?;
                    w.write_all(b"\n")?;
                }
            }
            Output::Log => bail!("write_files does not write the log"),
        }
        w.flush()?;
        counts.insert(topic, events.len() as u64);
    }
    Ok(counts)
}
