//! `gigstream produce --from FILE...` without a broker: the events go into the embedded log of
//! the data directory, where `gigstream run` folds them.
//!
//! - **Inputs.** JSON lines (one event per line in the core types' serde form, what `gigstream
//!   gen --output jsonl` writes), Avro object container files (any name: the topic comes from
//!   the writer schema), and `-` for standard input (either). A JSON-lines file named after a
//!   topic (`orders.jsonl`, `usage-2.jsonl`, as for Kafka) holds that topic's events; in a file of
//!   any other name (`my-events.jsonl`) each line's topic comes from its payload type
//!   (`PaymentSettled` → orders), else from its key field (`deal_id`, `subscription_id`,
//!   `service_id`).
//! - **Keys and partitions: as on Kafka.** The key is the event's entity key
//!   ([`gigstream_core::Event::key`], what the Kafka path sends), and the log's producer picks the
//!   partition with [`gigstream_core::partition::partition_for`], the Java client's murmur2
//!   partitioner, which is what librdkafka's `partitioner=murmur2_random` (enforced by
//!   `gigstream-kafka`) computes for a keyed record. Missing topics are created with
//!   `--partitions` (default 4, as on Kafka); an existing topic must have that many.
//! - **Record timestamps: the append time**, as a Kafka produce of files stamps the produce
//!   time. The services dead-letter an event more than the allowed skew (1 h) after its record's
//!   timestamp (`future_timestamp`), so backdated and current events go in, and only events
//!   from the future are refused.
//! - **Bad lines go in too**, as a Kafka producer would write a bad record: a line that is not
//!   JSON, not an event, of an unknown payload type, or with a field missing or of the wrong type
//!   is appended as it is, to the topic of its file name, else the topic its payload type or key
//!   field names, else `--bad-line-topic` (default `orders`). The services dead-letter it (a
//!   decode error) into `dead_letters`, counted in their metrics. Every record made from a file
//!   carries the headers `gigstream.source.file` and `gigstream.source.line`, so a dead letter's
//!   reason starts with `FILE:LINE`.
//!
//! JSON lines are appended byte for byte (the services decode JSON lines), events of Avro files
//! in the Confluent wire format with the catalog's ids. The report lists the records appended
//! per topic and the bad lines (the first [`BAD_LINES_SHOWN`], then a count). It is an error,
//! with nothing appended, when an input cannot be opened or holds no event at all.

use crate::produce_cmd::{ProduceArgs, Stamp};
use anyhow::{anyhow, bail, Context, Result};
use gigstream_avro::{Codec, Encoding};
use gigstream_core::validate::validate;
use gigstream_core::{Event, RefData, Topic};
use gigstream_kafka::KafkaConfig;
use gigstream_log::{Log, LogError, Producer};
use gigstream_runtime::{SOURCE_FILE_HEADER, SOURCE_LINE_HEADER};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bad lines the report lists one by one; the others are counted.
pub const BAD_LINES_SHOWN: usize = 20;

/// Bad lines held back until the first event: this many with no event means the input is not
/// events at all (a CSV file, say), and nothing is appended.
const MAX_BAD_BEFORE_AN_EVENT: usize = 10_000;

/// The topic of lines whose topic cannot be told, unless `--bad-line-topic` says otherwise.
pub const DEFAULT_BAD_LINE_TOPIC: Topic = Topic::Orders;

/// `gigstream produce` options for the embedded log.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LogArgs {
    /// Without a broker: the topic that gets the lines of --from files whose topic cannot be
    /// told (the file is not named after a topic, and the line is not JSON or has neither a
    /// known payload type nor a deal_id, subscription_id or service_id); the topic's services
    /// dead-letter them [default: orders]
    #[arg(long, value_name = "TOPIC", value_parser = parse_topic)]
    pub bad_line_topic: Option<Topic>,
}

fn parse_topic(s: &str) -> Result<Topic, String> {
    Topic::from_name(s).ok_or_else(|| format!("'{s}' is not a topic: orders, usage or telemetry"))
}

/// Whether `gigstream produce` with `args` goes to the embedded log: files to read and no
/// broker (`--brokers`, `GIGSTREAM_KAFKA_BROKERS`, `[kafka] brokers`).
pub fn applies(args: &ProduceArgs, configured: Option<&KafkaConfig>) -> bool {
    !args.from.is_empty() && args.brokers.is_none() && configured.is_none()
}

/// Records appended to one topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicCount {
    /// Every record appended (events and bad lines).
    pub records: u64,
    /// Of which bad lines (the services dead-letter them).
    pub bad: u64,
}

/// A line the services will dead-letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// The file as given (`stdin` for `-`).
    pub file: String,
    /// Line number from 1 (in an Avro file: the record number).
    pub line: u64,
    /// The topic it went to.
    pub topic: Topic,
    /// The dead-letter code the services give it (`invalid_json`, `unknown_platform`, ...).
    pub code: String,
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} (into {}, dead letter {})",
            self.file, self.line, self.reason, self.topic, self.code
        )
    }
}

/// What a produce into the embedded log did.
#[derive(Debug, Clone)]
pub struct LogReport {
    pub log_dir: PathBuf,
    /// The inputs, as given.
    pub inputs: Vec<String>,
    /// Topics this run created.
    pub created: Vec<String>,
    pub per_topic: BTreeMap<Topic, TopicCount>,
    /// The first [`BAD_LINES_SHOWN`] bad lines, in input order.
    pub bad_lines: Vec<BadLine>,
    /// Every bad line.
    pub bad_total: u64,
    /// Inputs that held nothing but empty lines.
    pub empty: Vec<String>,
    pub elapsed: Duration,
}

impl LogReport {
    fn new(log_dir: &Path, inputs: Vec<String>, created: Vec<String>) -> LogReport {
        LogReport {
            log_dir: log_dir.to_path_buf(),
            inputs,
            created,
            per_topic: BTreeMap::new(),
            bad_lines: Vec::new(),
            bad_total: 0,
            empty: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    /// Records appended, all topics.
    pub fn records(&self) -> u64 {
        self.per_topic.values().map(|c| c.records).sum()
    }

    /// The final counts, one line per topic, then the bad lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.created.is_empty() {
            let _ = writeln!(out, "created topics: {}", self.created.join(", "));
        }
        for topic in Topic::ALL {
            let c = self.per_topic.get(&topic).copied().unwrap_or_default();
            let _ = write!(out, "{:<9} {} records", topic.name(), c.records);
            if c.bad > 0 {
                let _ = write!(out, " ({} events, {} bad lines)", c.records - c.bad, c.bad);
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "appended {} records from {} to the embedded log {} in {:.1}s; record timestamps: append time",
            self.records(),
            self.inputs.join(", "),
            self.log_dir.display(),
            self.elapsed.as_secs_f64()
        );
        for e in &self.empty {
            let _ = writeln!(out, "note: {e} held no events");
        }
        if self.bad_total > 0 {
            let _ = writeln!(
                out,
                "{} bad line{} went in as records the services dead-letter (after gigstream run: \
                 gigstream sql \"SELECT service, code, reason FROM dead_letters\"):",
                self.bad_total,
                if self.bad_total == 1 { "" } else { "s" }
            );
            for b in &self.bad_lines {
                let _ = writeln!(out, "  {b}");
            }
            let more = self.bad_total - self.bad_lines.len() as u64;
            if more > 0 {
                let _ = writeln!(out, "  ... and {more} more");
            }
        }
        out
    }
}

/// An input: a file, or standard input (`-`).
#[derive(Debug, Clone)]
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn of(path: &Path) -> Input {
        if path.as_os_str() == "-" {
            Input::Stdin
        } else {
            Input::File(path.to_path_buf())
        }
    }

    /// The name records and messages give it.
    fn label(&self) -> String {
        match self {
            Input::Stdin => "stdin".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }

    fn open(&self) -> Result<Box<dyn BufRead>> {
        Ok(match self {
            Input::Stdin => Box::new(BufReader::with_capacity(1 << 16, std::io::stdin().lock())),
            Input::File(p) => {
                let file = std::fs::File::open(p).with_context(|| cannot_open(p))?;
                if file.metadata().is_ok_and(|m| m.is_dir()) {
                    bail!(
                        "{} is a directory: give the files in it (gigstream produce --from DIR/*.jsonl)",
                        p.display()
                    );
                }
                Box::new(BufReader::with_capacity(1 << 16, file))
            }
        })
    }
}

fn cannot_open(p: &Path) -> String {
    format!(
        "cannot open {}: check the path (--from takes JSON-lines files, Avro container files, or - for standard input)",
        p.display()
    )
}

/// What became of one line or record.
enum Verdict {
    /// It decoded as an event (which validation may still refuse).
    Event(Box<Event>),
    /// It did not; it goes in as it is, and the services dead-letter it.
    Bad { code: &'static str, reason: String },
}

/// One record to append.
struct Item {
    topic: Topic,
    /// The Kafka key: the event's entity key (for a bad line, its key field if it has one).
    key: Vec<u8>,
    /// What is appended: the JSON line as it is, or the Avro event framed as Confluent.
    value: Vec<u8>,
    line: u64,
    verdict: Verdict,
}

/// Appends items in order, holding back bad lines until the first event.
struct Appender<'a> {
    producer: Producer,
    codec: &'a Codec,
    refdata: &'a RefData,
    report: LogReport,
    held: Vec<(String, Item)>,
    seen_event: bool,
    progress: ProgressBar,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Appender<'_> {
    fn push(&mut self, file: &str, item: Item) -> Result<()> {
        let is_event = matches!(item.verdict, Verdict::Event(_));
        if !is_event && !self.seen_event {
            self.held.push((file.to_string(), item));
            if self.held.len() >= MAX_BAD_BEFORE_AN_EVENT {
                let (f, first) = &self.held[0];
                bail!(
                    "the first {MAX_BAD_BEFORE_AN_EVENT} lines read are not events (the first, {f}:{}: {}): is this the right file? Nothing was appended",
                    first.line,
                    match &first.verdict {
                        Verdict::Bad { reason, .. } => reason.as_str(),
                        Verdict::Event(_) => "",
                    }
                );
            }
            return Ok(());
        }
        if is_event && !self.seen_event {
            self.seen_event = true;
            for (f, held) in std::mem::take(&mut self.held) {
                self.append(&f, held)?;
            }
        }
        self.append(file, item)
    }

    fn append(&mut self, file: &str, item: Item) -> Result<()> {
        let ts = now_ms();
        let bad = match &item.verdict {
            Verdict::Bad { code, reason } => Some((code.to_string(), reason.clone())),
            // The services validate against the record timestamp: so does this.
            Verdict::Event(e) => validate(e, self.refdata, ts)
                .err()
                .map(|inv| (inv.code.to_string(), inv.detail)),
        };
        let line = item.line.to_string();
        let headers: [(&str, &[u8]); 2] = [
            (SOURCE_FILE_HEADER, file.as_bytes()),
            (SOURCE_LINE_HEADER, line.as_bytes()),
        ];
        self.producer
            .send(item.topic.name(), &item.key, &item.value, ts, &headers)
            .with_context(|| format!("cannot append {file}:{line} to the embedded log"))?;
        let count = self.report.per_topic.entry(item.topic).or_default();
        count.records += 1;
        if let Some((code, reason)) = bad {
            count.bad += 1;
            self.report.bad_total += 1;
            if self.report.bad_lines.len() < BAD_LINES_SHOWN {
                self.report.bad_lines.push(BadLine {
                    file: file.to_string(),
                    line: item.line,
                    topic: item.topic,
                    code,
                    reason,
                });
            }
        }
        let n = self.report.records();
        if n.is_multiple_of(4096) {
            self.progress.set_position(n);
        }
        Ok(())
    }

    /// Every record of one input.
    fn input(&mut self, input: &Input, bad_line_topic: Topic) -> Result<()> {
        let label = input.label();
        let mut r = input.open()?;
        let head = r
            .fill_buf()
            .with_context(|| format!("cannot read {label}"))?;
        if head.starts_with(b"Obj\x01") {
            return self.container(&label, r);
        }
        let file_topic = match input {
            Input::File(p) => topic_of_file(p),
            Input::Stdin => None,
        };
        let mut buf = Vec::with_capacity(1024);
        let mut line_no = 0u64;
        loop {
            buf.clear();
            let n = r
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("cannot read {label} after line {line_no}"))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            if buf.trim_ascii().is_empty() {
                continue;
            }
            let item = self.line(&buf, line_no, file_topic, bad_line_topic);
            self.push(&label, item)?;
        }
        Ok(())
    }

    /// One JSON line: decoded by the codec, as the services will decode it.
    fn line(
        &self,
        line: &[u8],
        line_no: u64,
        file_topic: Option<Topic>,
        bad_line_topic: Topic,
    ) -> Item {
        let mut hints = None;
        let told = match file_topic {
            Some(t) => Some(t),
            None => hints.insert(line_hints(line)).topic,
        };
        let topic = told.unwrap_or(bad_line_topic);
        let err = match self.codec.decode(topic, line) {
            Ok(event) => {
                return Item {
                    topic,
                    key: event.key().as_bytes().to_vec(),
                    value: line.to_vec(),
                    line: line_no,
                    verdict: Verdict::Event(Box::new(event)),
                }
            }
            Err(e) => e,
        };
        let hints = hints.unwrap_or_else(|| line_hints(line));
        let mut reason = if hints.json {
            err.to_string()
        } else {
            format!("not JSON: {err}")
        };
        if told.is_none() {
            let _ = write!(
                reason,
                " (its topic cannot be told: no known payload type, no {}; it goes to {topic}, choose with --bad-line-topic)",
                key_fields()
            );
        }
        let key = hints
            .obj
            .as_ref()
            .and_then(|o| o.get(topic.key_field()))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        Item {
            topic,
            key: key.as_bytes().to_vec(),
            value: line.to_vec(),
            line: line_no,
            verdict: Verdict::Bad {
                code: err.code(),
                reason,
            },
        }
    }

    /// The events of an Avro object container file, framed as Confluent.
    fn container(&mut self, label: &str, r: Box<dyn BufRead>) -> Result<()> {
        let events = self
            .codec
            .read_container(r)
            .with_context(|| format!("{label} is not a readable avro container file"))?;
        for (i, event) in events.enumerate() {
            let n = i as u64 + 1;
            let event = event.with_context(|| {
                format!(
                    "{label} is damaged at record {n} (the records before it went in; fix or \
                     rewrite the file and produce it again: the services count a repeated \
                     event id once)"
                )
            })?;
            let mut value = Vec::with_capacity(256);
            self.codec
                .encode(&event, Encoding::Confluent, &mut value)
                .with_context(|| format!("cannot encode event {}", event.event_id()))?;
            let item = Item {
                topic: event.topic(),
                key: event.key().as_bytes().to_vec(),
                value,
                line: n,
                verdict: Verdict::Event(Box::new(event)),
            };
            self.push(label, item)?;
        }
        Ok(())
    }
}

/// Appends the events of `args.from` to the embedded log in `log_dir`.
pub fn run(
    args: &ProduceArgs,
    log_args: &LogArgs,
    log_dir: &Path,
    codec: &Codec,
    refdata: &RefData,
) -> Result<LogReport> {
    if args.timestamp == Some(Stamp::Append) {
        bail!(
            "files carry no append time: the embedded log stamps records with the time they are appended (--timestamp produce, the default)"
        );
    }
    if args.rate.is_some() {
        bail!("--rate paces a Kafka produce (--brokers); the embedded log takes the files at once");
    }
    if args.topic_prefix.is_some() {
        bail!("--topic-prefix names Kafka topics (--brokers); the embedded log's topics are orders, usage and telemetry");
    }
    if args.partitions == 0 {
        bail!("--partitions must be at least 1");
    }
    let inputs: Vec<Input> = args.from.iter().map(|p| Input::of(p)).collect();
    if inputs.iter().filter(|i| matches!(i, Input::Stdin)).count() > 1 {
        bail!("- (standard input) can be read once only");
    }
    // Every file must open before anything is appended.
    for input in &inputs {
        if let Input::File(_) = input {
            input.open()?;
        }
    }
    let started = Instant::now();
    let log = Log::open(log_dir)
        .with_context(|| format!("cannot open the embedded log in {}", log_dir.display()))?;
    let existing = log.topics()?;
    let mut created = Vec::new();
    for t in Topic::ALL {
        log.create_topic(t.name(), args.partitions)
            .map_err(|e| match e {
                LogError::PartitionCountMismatch { existing, .. } => anyhow!(
                    "topic {t} of the embedded log {} has {existing} partitions, not {}: pass --partitions {existing}",
                    log_dir.display(),
                    args.partitions
                ),
                e => anyhow::Error::new(e),
            })?;
        if !existing.iter().any(|n| n == t.name()) {
            created.push(t.name().to_string());
        }
    }
    let producer = log.producer().with_context(|| {
        format!(
            "cannot write the embedded log in {} (gigstream gen or another produce writes it now?)",
            log_dir.display()
        )
    })?;
    let progress = ProgressBar::no_length().with_style(
        ProgressStyle::with_template("appending {spinner} {pos} {per_sec}")
            .expect("static progress template is valid"),
    );
    let mut app = Appender {
        producer,
        codec,
        refdata,
        report: LogReport::new(log_dir, inputs.iter().map(Input::label).collect(), created),
        held: Vec::new(),
        seen_event: false,
        progress,
    };
    let bad_line_topic = log_args.bad_line_topic.unwrap_or(DEFAULT_BAD_LINE_TOPIC);
    for input in &inputs {
        let before = app.report.records() + app.held.len() as u64;
        app.input(input, bad_line_topic)?;
        if app.report.records() + app.held.len() as u64 == before {
            app.report.empty.push(input.label());
        }
    }
    app.progress.finish_and_clear();
    if !app.seen_event {
        let names = app.report.inputs.join(", ");
        match app.held.first() {
            None => bail!("{names}: no events to produce (only empty lines)"),
            Some((f, first)) => bail!(
                "no line of {names} is an event ({} bad line{}, the first {f}:{}: {}); nothing was appended",
                app.held.len(),
                if app.held.len() == 1 { "" } else { "s" },
                first.line,
                match &first.verdict {
                    Verdict::Bad { reason, .. } => reason.as_str(),
                    Verdict::Event(_) => "",
                }
            ),
        }
    }
    app.producer
        .flush()
        .with_context(|| format!("cannot sync the embedded log in {}", log_dir.display()))?;
    app.report.elapsed = started.elapsed();
    Ok(app.report)
}

/// The topic a JSON-lines file holds, from its name (`orders.jsonl`, `usage-2.jsonl`,
/// `telemetry_eu.json`: the rule of the Kafka path); `None` for any other name.
pub fn topic_of_file(path: &Path) -> Option<Topic> {
    let stem = path.file_stem()?.to_str()?;
    Topic::ALL.into_iter().find(|t| {
        stem.strip_prefix(t.name())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '_', '.']))
    })
}

/// Every event type and its topic (the payload variants of the core types).
const EVENT_TYPES: [(&str, Topic); 15] = [
    ("LeadPosted", Topic::Orders),
    ("ProposalSubmitted", Topic::Orders),
    ("ClientResponded", Topic::Orders),
    ("ContractSigned", Topic::Orders),
    ("WorkLogged", Topic::Orders),
    ("MilestoneDelivered", Topic::Orders),
    ("InvoiceIssued", Topic::Orders),
    ("PaymentSettled", Topic::Orders),
    ("ContractEnded", Topic::Orders),
    ("SubscriptionChanged", Topic::Usage),
    ("UsageRecorded", Topic::Usage),
    ("RequestObserved", Topic::Telemetry),
    ("ProbeResult", Topic::Telemetry),
    ("IncidentOpened", Topic::Telemetry),
    ("IncidentResolved", Topic::Telemetry),
];

/// The topic of an event type (`PaymentSettled` → orders).
pub fn topic_of_type(name: &str) -> Option<Topic> {
    EVENT_TYPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

fn key_fields() -> String {
    Topic::ALL.map(Topic::key_field).join(", ")
}

/// What a line says about itself.
struct Hints {
    /// It is JSON.
    json: bool,
    /// Its object, if it is one.
    obj: Option<serde_json::Map<String, serde_json::Value>>,
    /// The topic of its payload type, else of its key field.
    topic: Option<Topic>,
}

fn line_hints(line: &[u8]) -> Hints {
    let obj = match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(o)) => o,
        Ok(_) => {
            return Hints {
                json: true,
                obj: None,
                topic: None,
            }
        }
        Err(_) => {
            return Hints {
                json: false,
                obj: None,
                topic: None,
            }
        }
    };
    let by_type = obj
        .get("payload")
        .and_then(|p| p.as_object())
        .filter(|p| p.len() == 1)
        .and_then(|p| p.keys().next())
        .and_then(|name| topic_of_type(name));
    let by_key = || {
        Topic::ALL
            .into_iter()
            .find(|t| obj.contains_key(t.key_field()))
    };
    let topic = by_type.or_else(by_key);
    Hints {
        json: true,
        obj: Some(obj),
        topic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_avro::Registry;

    fn codec() -> Codec {
        Codec::new(Registry::builtin())
    }

    #[test]
    fn files_named_after_a_topic_hold_it_others_are_mixed() {
        assert_eq!(
            topic_of_file(Path::new("gen/orders.jsonl")),
            Some(Topic::Orders)
        );
        assert_eq!(
            topic_of_file(Path::new("usage-2.jsonl")),
            Some(Topic::Usage)
        );
        assert_eq!(
            topic_of_file(Path::new("/x/telemetry_eu.json")),
            Some(Topic::Telemetry)
        );
        assert_eq!(topic_of_file(Path::new("ordersx.jsonl")), None);
        assert_eq!(topic_of_file(Path::new("examples/events.jsonl")), None);
    }

    #[test]
    fn every_event_type_maps_to_its_topic() {
        let refdata = RefData::builtin();
        let cfg = gigstream_gen::GenConfig {
            events: 20_000,
            days: 20,
            ..gigstream_gen::GenConfig::default()
        };
        for g in gigstream_gen::generate(&cfg, &refdata) {
            assert_eq!(
                topic_of_type(g.event.type_name()),
                Some(g.event.topic()),
                "{}",
                g.event.type_name()
            );
        }
        // Every payload record of the catalog's newest schemas, and only these, with its topic
        // (a short generated stream does not hold every type: contracts end after weeks).
        let catalog = gigstream_avro::Registry::builtin();
        let mut in_schemas = std::collections::BTreeSet::new();
        for t in Topic::ALL {
            let schema: serde_json::Value =
                serde_json::from_str(catalog.schema_json(catalog.latest(t)).unwrap()).unwrap();
            let payload = schema["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == "payload")
                .expect("a payload field");
            for branch in payload["type"].as_array().expect("a union") {
                in_schemas.insert((branch["name"].as_str().unwrap().to_string(), t));
            }
        }
        let listed: std::collections::BTreeSet<(String, Topic)> = EVENT_TYPES
            .iter()
            .map(|(n, t)| (n.to_string(), *t))
            .collect();
        assert_eq!(
            listed, in_schemas,
            "EVENT_TYPES against the schemas' payload records"
        );
    }

    #[test]
    fn a_line_tells_its_topic_by_payload_type_then_key_field() {
        let h = line_hints(br#"{"deal_id":"d","payload":{"UsageRecorded":{}}}"#);
        assert_eq!(h.topic, Some(Topic::Usage));
        let h = line_hints(br#"{"service_id":"s","payload":{"Nope":{}}}"#);
        assert_eq!(h.topic, Some(Topic::Telemetry));
        let h = line_hints(br#"{"event_id":"e"}"#);
        assert_eq!((h.json, h.topic), (true, None));
        let h = line_hints(b"deal_id,amount");
        assert_eq!((h.json, h.topic), (false, None));
    }

    #[test]
    fn bad_lines_keep_their_bytes_and_say_why() {
        let codec = codec();
        let refdata = RefData::builtin();
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(dir.path()).unwrap();
        let app = Appender {
            producer: log.producer().unwrap(),
            codec: &codec,
            refdata: &refdata,
            report: LogReport::new(dir.path(), Vec::new(), Vec::new()),
            held: Vec::new(),
            seen_event: false,
            progress: ProgressBar::hidden(),
        };
        let missing = br#"{"event_id":"e-1","occurred_at":"2026-11-02T10:00:00Z","deal_id":"d-1","schema_version":2,"payload":{"PaymentSettled":{"invoice_id":"i","currency":"CNY","settled_at":"2026-11-02T10:00:00Z"}}}"#;
        let item = app.line(missing, 7, None, Topic::Usage);
        assert_eq!(item.topic, Topic::Orders, "told by the payload type");
        assert_eq!(item.key, b"d-1", "keyed by its deal_id like an event");
        assert_eq!(item.value, missing.to_vec());
        let Verdict::Bad { code, reason } = item.verdict else {
            panic!("a missing field is a bad line")
        };
        assert_eq!(code, "invalid_json");
        assert!(reason.contains("missing field `gross`"), "{reason}");

        let item = app.line(b"hello", 3, None, Topic::Usage);
        assert_eq!((item.topic, item.key.len()), (Topic::Usage, 0));
        let Verdict::Bad { code, reason } = item.verdict else {
            panic!("not JSON")
        };
        assert_eq!(code, "bad_magic");
        assert!(reason.starts_with("not JSON"), "{reason}");
        assert!(reason.contains("--bad-line-topic"), "{reason}");

        let item = app.line(
            b"{\"event_id\": 1}",
            4,
            Some(Topic::Telemetry),
            Topic::Usage,
        );
        assert_eq!(item.topic, Topic::Telemetry, "the file name wins");
    }
}
