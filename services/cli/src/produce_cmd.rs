//! `gigstream produce`: writes events to Kafka in the Confluent wire format (magic 0, the
//! schema id of `schemas/catalog.json`, Avro binary), keyed by entity (orders by `deal_id`,
//! usage by `subscription_id`, telemetry by `service_id`), so the services can read them from
//! Kafka instead of the embedded log.
//!
//! The events are either generated (the `gen` options; records made invalid on purpose are
//! produced exactly as `gen` appends them to the log, damaged bytes included, so the services
//! dead-letter them) or read from files written by `gen --output jsonl|avro`.
//!
//! Record timestamps: the validation rejects events that occur more than the allowed skew after
//! their record timestamp (`future_timestamp`). Generated events are therefore stamped with the
//! generator's append time by default, like the embedded log, so a Kafka run dead-letters the
//! same records as a log run. With `--rate` (freshness measurements) or `--from` (files carry
//! no append time) the default is the produce time; `--timestamp` chooses explicitly.
//!
//! With a schema registry configured (`[schema_registry] url`), the catalog's schemas are first
//! checked and registered under each topic's subject (see [`crate::schemas_cmd`]), and every
//! record carries the id the registry assigned instead of the catalog's (the datum is the same
//! bytes). A subject holding a version the catalog cannot read stops the produce before any
//! record is written.
//!
//! Encoding runs on its own thread and hands records to the producer through a bounded
//! channel, so files of any size stream through and the producer rarely waits for the encoder.

use crate::gen_cmd::{self, WireEncoding};
use anyhow::{anyhow, bail, Context, Result};
use gigstream_avro::{Codec, Encoding};
use gigstream_core::{Event, RefData, Topic};
use gigstream_gen::{GenConfig, Generated};
use gigstream_kafka::{ensure_topics, wait_ready, KafkaConfig, KafkaProducer, ProduceSummary};
use gigstream_registry::SchemaRegistry;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};

/// Which time a record carries as its Kafka timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stamp {
    /// The generator's append time (what the embedded log records).
    Append,
    /// The time the record is produced.
    Produce,
}

/// Options of `gigstream produce` besides the generation ones.
#[derive(clap::Args, Debug, Clone)]
pub struct ProduceArgs {
    /// Produce the events of these files (written by `gigstream gen --output jsonl|avro`:
    /// Avro container files, or JSON lines named <topic>.jsonl) instead of generating.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub from: Vec<PathBuf>,
    /// Kafka bootstrap servers, host:port[,host:port...] [env: GIGSTREAM_KAFKA_BROKERS]
    #[arg(long)]
    pub brokers: Option<String>,
    /// Put before every topic name [env: GIGSTREAM_KAFKA_TOPIC_PREFIX]
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Partitions of the topics (and their .dlq twins) created when missing; existing topics
    /// must have this many.
    #[arg(long, default_value_t = 4)]
    pub partitions: u32,
    /// Produce at this steady rate instead of as fast as possible.
    #[arg(long, value_name = "EVENTS_PER_SEC")]
    pub rate: Option<f64>,
    /// Record timestamps [default: append for generated events; produce with --rate or --from]
    #[arg(long, value_enum)]
    pub timestamp: Option<Stamp>,
}

/// What a produce did.
#[derive(Debug, Clone)]
pub struct ProduceReport {
    /// Kafka topic name of each gigstream topic.
    pub topics: BTreeMap<Topic, String>,
    /// Topics (and twins) this run created.
    pub created: Vec<String>,
    pub summary: ProduceSummary,
    /// Records made invalid on purpose: topic → kind → count (generated events only).
    pub injected: BTreeMap<String, BTreeMap<String, u64>>,
    pub stamp: Stamp,
    /// With a schema registry: where the ids came from and each topic's subject and id.
    pub schema_ids: Option<String>,
}

impl ProduceReport {
    /// Records made invalid on purpose, all topics.
    pub fn injected_total(&self) -> u64 {
        self.injected.values().flat_map(|m| m.values()).sum()
    }

    /// The final counts, one line per topic, then the total and rate.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.created.is_empty() {
            let _ = writeln!(out, "created topics: {}", self.created.join(", "));
        }
        if let Some(ids) = &self.schema_ids {
            let _ = writeln!(out, "{ids}");
        }
        for (topic, name) in &self.topics {
            let n = self.summary.per_topic.get(topic).copied().unwrap_or(0);
            let bad: u64 = self
                .injected
                .get(topic.name())
                .map_or(0, |m| m.values().sum());
            let _ = write!(out, "{:<9} -> {name}: {n} records", topic.name());
            if bad > 0 {
                let _ = write!(out, " ({bad} invalid on purpose)");
            }
            out.push('\n');
        }
        let secs = self.summary.elapsed.as_secs_f64();
        let _ = writeln!(
            out,
            "produced {} records in {secs:.1}s ({:.0} records/s); record timestamps: {}",
            self.summary.delivered,
            self.summary.delivered as f64 / secs.max(1e-9),
            match self.stamp {
                Stamp::Append => "generator append time",
                Stamp::Produce => "produce time",
            }
        );
        out
    }
}

/// The Kafka settings: the configured ones (`[kafka]` of the config file and the
/// `GIGSTREAM_KAFKA_*` variables), with `--brokers` and `--topic-prefix` taking precedence.
pub fn kafka_config(args: &ProduceArgs, configured: Option<KafkaConfig>) -> Result<KafkaConfig> {
    let mut config = match (configured, &args.brokers) {
        (Some(c), _) => c,
        (None, Some(brokers)) => KafkaConfig::new(brokers.clone()),
        (None, None) => bail!(
            "no kafka brokers: pass --brokers host:port, or set GIGSTREAM_KAFKA_BROKERS or \
             [kafka] brokers"
        ),
    };
    if let Some(brokers) = &args.brokers {
        config.brokers = brokers.clone();
    }
    if let Some(prefix) = &args.topic_prefix {
        config = config.with_topic_prefix(prefix.clone());
    }
    Ok(config)
}

/// One encoded record: topic, key, Confluent-framed value, record timestamp (`None`: now).
type Encoded = (Topic, Vec<u8>, Vec<u8>, Option<i64>);

/// Records per channel message, so the channel costs little per record.
const CHUNK: usize = 1024;
/// Chunks buffered between the encoder and the producer.
const CHUNKS_IN_FLIGHT: usize = 32;

/// Produces generated events (`gen`) or the events of `args.from` to Kafka (the `configured`
/// settings and the flags of `args`), creating the topics first; Confluent ids are the
/// catalog's.
pub fn run(
    args: &ProduceArgs,
    configured: Option<KafkaConfig>,
    gen: &GenConfig,
    codec: &Codec,
    refdata: &RefData,
) -> Result<ProduceReport> {
    run_with_registry(args, configured, None, gen, codec, refdata)
}

/// [`run`], with the ids `registry` assigns when one is given: the catalog's schemas are
/// checked and registered under each topic's subject first.
pub fn run_with_registry(
    args: &ProduceArgs,
    configured: Option<KafkaConfig>,
    registry: Option<&SchemaRegistry>,
    gen: &GenConfig,
    codec: &Codec,
    refdata: &RefData,
) -> Result<ProduceReport> {
    let stamp = match (args.timestamp, args.from.is_empty()) {
        (Some(Stamp::Append), false) => bail!(
            "files written by gen carry no append time: use --timestamp produce (the default with --from)"
        ),
        (Some(s), _) => s,
        (None, false) => Stamp::Produce,
        (None, true) if args.rate.is_some() => Stamp::Produce,
        (None, true) => Stamp::Append,
    };
    if args.partitions == 0 {
        bail!("--partitions must be at least 1");
    }
    // Fail on a file gigstream cannot read before touching Kafka.
    for path in &args.from {
        if !is_avro_container(path)? {
            topic_of_file(path)?;
        }
    }
    let config = kafka_config(args, configured)?;
    let topics: BTreeMap<Topic, String> = Topic::ALL
        .iter()
        .map(|t| (*t, config.topic_name(*t)))
        .collect();
    let probe = topics.values().next().map_or("", String::as_str);
    wait_ready(&config, probe, config.request_timeout)?;
    let wanted: Vec<(&str, u32)> = topics
        .values()
        .map(|n| (n.as_str(), args.partitions))
        .collect();
    let statuses = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a tokio runtime")?
        .block_on(ensure_topics(&config, &wanted))?;
    let created = statuses
        .into_iter()
        .filter(|s| s.created)
        .map(|s| s.name)
        .collect();
    let (wire_ids, schema_ids) = match registry {
        None => (None, None),
        Some(r) => {
            let catalog = codec.registry();
            let (ids, report) =
                crate::schemas_cmd::ensure_registered(r, catalog, &|t| config.topic_name(t))?;
            let subjects: Vec<String> = report
                .subjects
                .iter()
                .map(|s| {
                    let id = ids.get(&catalog.latest(s.topic).0).copied().unwrap_or(0);
                    format!("{} id {id}", s.subject)
                })
                .collect();
            let line = format!(
                "schema ids from the {}: {}",
                report.registry,
                subjects.join(", ")
            );
            (Some(ids), Some(line))
        }
    };
    let wire_ids = wire_ids.as_ref();

    let records = if args.from.is_empty() {
        Some(gen_cmd::generate_records(gen, refdata)?)
    } else {
        None
    };
    let pb = progress_bar(records.as_ref().map(|r| r.len() as u64));
    let producer = KafkaProducer::new(&config)?;
    let (tx, rx) = sync_channel::<Vec<Encoded>>(CHUNKS_IN_FLIGHT);
    let (produced, encoded) = std::thread::scope(|s| {
        let encoder = s.spawn(move || match &records {
            Some(records) => encode_generated(codec, records, stamp, wire_ids, tx),
            None => encode_files(codec, &args.from, wire_ids, tx).map(|()| BTreeMap::new()),
        });
        let produced =
            producer.produce_iter_blocking(rx.into_iter().flatten(), args.rate, &mut |n| {
                pb.set_position(n)
            });
        let encoded = encoder
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the encoder thread panicked")));
        (produced, encoded)
    });
    pb.finish_and_clear();
    // The producer's failure first: it makes the encoder stop too.
    let summary = produced?;
    let injected = encoded?;
    Ok(ProduceReport {
        topics,
        created,
        summary,
        injected,
        stamp,
        schema_ids,
    })
}

fn progress_bar(len: Option<u64>) -> ProgressBar {
    let (pb, template) = match len {
        Some(n) => (
            ProgressBar::new(n),
            "producing [{bar:30}] {pos}/{len} {per_sec}",
        ),
        None => (
            ProgressBar::no_length(),
            "producing {spinner} {pos} {per_sec}",
        ),
    };
    pb.with_style(
        ProgressStyle::with_template(template)
            .expect("static progress template is valid")
            .progress_chars("=> "),
    )
}

/// Sends full chunks; an error means the producer has stopped (it reports why).
struct Chunker {
    tx: SyncSender<Vec<Encoded>>,
    chunk: Vec<Encoded>,
}

impl Chunker {
    fn push(&mut self, record: Encoded) -> Result<()> {
        self.chunk.push(record);
        if self.chunk.len() >= CHUNK {
            let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
            self.tx
                .send(full)
                .map_err(|_| anyhow!("the kafka producer stopped"))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        if !self.chunk.is_empty() {
            self.tx
                .send(self.chunk)
                .map_err(|_| anyhow!("the kafka producer stopped"))?;
        }
        Ok(())
    }
}

/// The Confluent id of a framed value replaced by the registry's id of that catalog id (a value
/// damaged on purpose keeps what it has: an unknown id, no framing).
fn to_registry_id(value: &mut [u8], wire_ids: Option<&BTreeMap<u32, u32>>) {
    let Some(ids) = wire_ids else { return };
    if value.len() < 5 || value[0] != 0 {
        return;
    }
    let id = u32::from_be_bytes([value[1], value[2], value[3], value[4]]);
    if let Some(wire) = ids.get(&id) {
        value[1..5].copy_from_slice(&wire.to_be_bytes());
    }
}

/// Encodes like `gen` does for the log (same injected damage), Confluent framing (with the
/// registry's ids when `wire_ids` maps the catalog's to them: the same datum either way).
fn encode_generated(
    codec: &Codec,
    records: &[Generated],
    stamp: Stamp,
    wire_ids: Option<&BTreeMap<u32, u32>>,
    tx: SyncSender<Vec<Encoded>>,
) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let mut out = Chunker {
        tx,
        chunk: Vec::with_capacity(CHUNK),
    };
    let injected = gen_cmd::encode_all(
        codec,
        records,
        WireEncoding::Confluent,
        |topic, key, value, ts| {
            let mut value = value.to_vec();
            to_registry_id(&mut value, wire_ids);
            out.push((
                topic,
                key.to_vec(),
                value,
                (stamp == Stamp::Append).then_some(ts),
            ))
        },
    )?;
    out.finish()?;
    Ok(injected)
}

fn encode_files(
    codec: &Codec,
    paths: &[PathBuf],
    wire_ids: Option<&BTreeMap<u32, u32>>,
    tx: SyncSender<Vec<Encoded>>,
) -> Result<()> {
    let mut out = Chunker {
        tx,
        chunk: Vec::with_capacity(CHUNK),
    };
    for path in paths {
        for_each_event(codec, path, &mut |event| {
            let mut value = Vec::with_capacity(256);
            let latest = codec.registry().latest(event.topic());
            let encoded = match wire_ids.and_then(|ids| ids.get(&latest.0)) {
                Some(&wire) => codec.encode_confluent_as(&event, latest, wire, &mut value),
                None => codec.encode(&event, Encoding::Confluent, &mut value),
            };
            encoded.with_context(|| format!("cannot encode event {}", event.event_id()))?;
            out.push((event.topic(), event.key().as_bytes().to_vec(), value, None))
        })?;
    }
    out.finish()
}

/// Calls `f` with every event of `path`: an Avro object container file (any name; the topic
/// comes from its writer schema) or JSON lines named after their topic (`orders.jsonl`,
/// `orders-2.jsonl`, ...).
fn for_each_event(
    codec: &Codec,
    path: &Path,
    f: &mut dyn FnMut(Event) -> Result<()>,
) -> Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let head = r
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?;
    if head.starts_with(b"Obj\x01") {
        let events = codec
            .read_container(r)
            .with_context(|| format!("{} is not a readable avro container file", path.display()))?;
        for (i, event) in events.enumerate() {
            f(event.with_context(|| format!("{}: event {}", path.display(), i + 1))?)?;
        }
        return Ok(());
    }
    let topic = topic_of_file(path)?;
    for (i, line) in r.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim_ascii().is_empty() {
            continue;
        }
        let event = codec
            .decode(topic, &line)
            .with_context(|| format!("{}:{} is not a {} event", path.display(), i + 1, topic))?;
        f(event)?;
    }
    Ok(())
}

fn is_avro_container(path: &Path) -> Result<bool> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut magic = Vec::with_capacity(4);
    file.take(4)
        .read_to_end(&mut magic)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(magic == b"Obj\x01")
}

/// The topic a JSON-lines file holds, from its name: `<topic>.jsonl` or `<topic>-<anything>`.
fn topic_of_file(path: &Path) -> Result<Topic> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    Topic::ALL
        .into_iter()
        .find(|t| {
            stem.strip_prefix(t.name())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_', '.']))
        })
        .ok_or_else(|| {
            anyhow!(
                "cannot tell the topic of {}: name JSON-lines files after their topic (orders.jsonl, usage.jsonl, telemetry.jsonl) or give Avro container files",
                path.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_files_are_named_after_their_topic() {
        assert_eq!(
            topic_of_file(Path::new("gen/orders.jsonl")).unwrap(),
            Topic::Orders
        );
        assert_eq!(
            topic_of_file(Path::new("usage-2.jsonl")).unwrap(),
            Topic::Usage
        );
        assert_eq!(
            topic_of_file(Path::new("/x/telemetry_eu.json")).unwrap(),
            Topic::Telemetry
        );
        let err = topic_of_file(Path::new("ordersx.jsonl")).unwrap_err();
        assert!(err.to_string().contains("ordersx.jsonl"), "{err}");
    }

    #[test]
    fn registry_ids_replace_catalog_ids_and_leave_damage_alone() {
        let ids = BTreeMap::from([(2u32, 41u32), (6, 47)]);
        let mut v = vec![0, 0, 0, 0, 2, 9, 9];
        to_registry_id(&mut v, Some(&ids));
        assert_eq!(v, [0, 0, 0, 0, 41, 9, 9]);
        for damaged in [
            vec![0, 0, 0, 0x27, 0x0f, 2],
            vec![7, 0, 0, 0, 2, 1],
            vec![0, 0, 0],
        ] {
            let mut v = damaged.clone();
            to_registry_id(&mut v, Some(&ids));
            assert_eq!(v, damaged);
        }
        let mut v = vec![0, 0, 0, 0, 2, 9];
        to_registry_id(&mut v, None);
        assert_eq!(v, [0, 0, 0, 0, 2, 9]);
    }

    #[test]
    fn flags_override_the_settings() {
        let args = ProduceArgs {
            from: Vec::new(),
            brokers: Some("k9:9092".into()),
            topic_prefix: Some("t1.".into()),
            partitions: 4,
            rate: None,
            timestamp: None,
        };
        let mut configured = KafkaConfig::new("k1:9092").with_topic_prefix("t0.");
        configured
            .properties
            .insert("security.protocol".into(), "SASL_SSL".into());
        let cfg = kafka_config(&args, Some(configured)).unwrap();
        assert_eq!(cfg.brokers, "k9:9092");
        assert_eq!(cfg.topic_name(Topic::Usage), "t1.usage");
        assert_eq!(cfg.properties["security.protocol"], "SASL_SSL");
        let cfg = kafka_config(&args, None).unwrap();
        assert_eq!(cfg.brokers, "k9:9092");
        let none = ProduceArgs {
            brokers: None,
            ..args
        };
        let err = kafka_config(&none, None).unwrap_err().to_string();
        assert!(err.contains("--brokers"), "{err}");
    }
}
