//! Operating gigstream's services: metrics, health and readiness over HTTP.
//!
//! [`Ops`] holds a [`Registry`] with gigstream's metrics and what readiness needs; it implements
//! the runtime's [`RunObserver`], so a service passes it to
//! [`gigstream_runtime::run`] (as the `observer` of its `Pipeline`) and serves it with
//! [`Ops::serve`]:
//!
//! | path | answer |
//! |---|---|
//! | `/health` | 200 `ok` while the process runs |
//! | `/ready` | 200 `ready` when the service holds partitions (or reads the embedded log), its last sink operation succeeded and no record waits for the schema registry; 503 with a one-line reason otherwise |
//! | `/metrics` | the OpenMetrics text format (`prometheus-client`), which Prometheus scrapes |
//!
//! Metrics (every one labelled `service`):
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `gigstream_events_consumed_total` | counter | `topic` | records read |
//! | `gigstream_events_applied_total` | counter | `topic` | events folded into the projection |
//! | `gigstream_events_duplicate_total` | counter | `topic` | repeated event ids skipped |
//! | `gigstream_dead_letters_total` | counter | `topic`, `reason` | dead letters committed, by reason code |
//! | `gigstream_consumer_lag` | gauge | `topic`, `partition` | records between the position and the partition's end |
//! | `gigstream_consumer_lag_seconds` | gauge | `topic`, `partition` | seconds behind by event time: now minus the newest event time applied from the partition while records are left to read, 0 when caught up |
//! | `gigstream_event_time_watermark_seconds` | gauge | `topic`, `partition` | newest event time (`occurred_at`) applied from the partition, Unix seconds |
//! | `gigstream_flush_seconds` | histogram | | one commit attempt (tables and positions) |
//! | `gigstream_flush_rows` | histogram | | rows written per commit |
//! | `gigstream_commits_total` | counter | `result` (`ok`, `error`) | commit attempts |
//! | `gigstream_last_commit_timestamp_seconds` | gauge | | Unix time of the last successful commit |
//! | `gigstream_sink_errors_total` | counter | | failed sink operations (commits, checkpoint loads) |
//! | `gigstream_sink_retries_total` | counter | | retries after a failure (sink or dead-letter delivery) |
//! | `gigstream_broker_errors_total` | counter | `operation` | failed broker operations that are retried (`dlq_produce`: dead letters not delivered to `<topic>.dlq`) |
//! | `gigstream_schema_registry_errors_total` | counter | | writer-schema look-ups that found the schema registry unreachable (or answering 5xx): each is retried after a backoff while the records wait (never dead-lettered) |
//! | `gigstream_rebalances_total` | counter | | assignment changes handled |
//! | `gigstream_assigned_partitions` | gauge | | partitions owned |
//! | `gigstream_up` | gauge | | 1 while running, 0 once stopping |

pub mod http;
pub mod metrics;

pub use http::{HttpServer, Response};
pub use metrics::{Labels, Registry};

use gigstream_core::Topic;
use gigstream_runtime::{topic_index, CommitReport, PollBatch, RunObserver, WAIT_SCHEMAS};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const EVENTS_CONSUMED: &str = "gigstream_events_consumed_total";
pub const EVENTS_APPLIED: &str = "gigstream_events_applied_total";
pub const EVENTS_DUPLICATE: &str = "gigstream_events_duplicate_total";
pub const DEAD_LETTERS: &str = "gigstream_dead_letters_total";
pub const CONSUMER_LAG: &str = "gigstream_consumer_lag";
pub const CONSUMER_LAG_SECONDS: &str = "gigstream_consumer_lag_seconds";
pub const EVENT_TIME_WATERMARK: &str = "gigstream_event_time_watermark_seconds";
pub const BROKER_ERRORS: &str = "gigstream_broker_errors_total";
pub const SCHEMA_REGISTRY_ERRORS: &str = "gigstream_schema_registry_errors_total";
pub const FLUSH_SECONDS: &str = "gigstream_flush_seconds";
pub const FLUSH_ROWS: &str = "gigstream_flush_rows";
pub const COMMITS: &str = "gigstream_commits_total";
pub const LAST_COMMIT: &str = "gigstream_last_commit_timestamp_seconds";
pub const SINK_ERRORS: &str = "gigstream_sink_errors_total";
pub const SINK_RETRIES: &str = "gigstream_sink_retries_total";
pub const REBALANCES: &str = "gigstream_rebalances_total";
pub const ASSIGNED_PARTITIONS: &str = "gigstream_assigned_partitions";
pub const UP: &str = "gigstream_up";

const FLUSH_SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const FLUSH_ROWS_BUCKETS: &[f64] = &[
    10.0,
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
];

/// Readiness inputs of one service.
#[derive(Debug, Default, Clone)]
struct Readiness {
    started: bool,
    exclusive: bool,
    assigned: usize,
    /// The last sink operation: `None` before the first.
    last_sink: Option<Result<(), String>>,
    /// Records wait for the schema registry, which failed with this.
    registry: Option<String>,
    stopping: bool,
}

impl Readiness {
    fn reason(&self) -> Option<String> {
        if self.stopping {
            return Some("stopping".into());
        }
        if !self.started {
            return Some("starting: not connected to the input yet".into());
        }
        if !self.exclusive && self.assigned == 0 {
            return Some("no partition assigned".into());
        }
        if let Some(e) = &self.registry {
            return Some(format!(
                "records wait for the schema registry: {}",
                one_line(e)
            ));
        }
        match &self.last_sink {
            None => Some("no sink operation yet".into()),
            Some(Err(e)) => Some(format!("last sink operation failed: {}", one_line(e))),
            Some(Ok(())) => None,
        }
    }
}

fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(300).collect();
    if out.len() < line.len() {
        out.push_str("...");
    }
    out
}

/// What the lag in seconds is computed from, per service.
#[derive(Debug, Default, Clone)]
struct LagState {
    /// Records left per owned partition (the last lag report).
    records: BTreeMap<(Topic, u32), u64>,
    /// Newest event time applied per owned partition, Unix ms.
    watermarks: BTreeMap<(Topic, u32), i64>,
}

/// Metrics and readiness of the services of one process.
#[derive(Debug)]
pub struct Ops {
    registry: Registry,
    ready: Mutex<BTreeMap<&'static str, Readiness>>,
    lags: Mutex<BTreeMap<&'static str, LagState>>,
}

impl Default for Ops {
    fn default() -> Self {
        Ops::new()
    }
}

fn svc(service: &'static str) -> Labels {
    vec![("service", service.to_string())]
}

fn with(service: &'static str, more: &[(&'static str, &str)]) -> Labels {
    let mut l = svc(service);
    l.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    l
}

impl Ops {
    /// The registry with gigstream's metrics declared.
    pub fn new() -> Ops {
        let r = Registry::new();
        r.counter(EVENTS_CONSUMED, "Records read from the input, by topic.");
        r.counter(
            EVENTS_APPLIED,
            "Events folded into the projection, by topic.",
        );
        r.counter(
            EVENTS_DUPLICATE,
            "Events skipped because their event id was seen before, by topic.",
        );
        r.counter(
            DEAD_LETTERS,
            "Dead letters committed, by topic and reason code.",
        );
        r.gauge(
            CONSUMER_LAG,
            "Records between the service's position and the end of each owned partition.",
        );
        r.gauge(
            CONSUMER_LAG_SECONDS,
            "Seconds behind by event time per owned partition: now minus the newest event time applied from it while records are left to read; 0 when caught up.",
        );
        r.gauge(
            EVENT_TIME_WATERMARK,
            "Newest event time (occurred_at) applied from each owned partition, Unix seconds.",
        );
        r.counter(
            BROKER_ERRORS,
            "Failed broker operations that are retried, by operation (dlq_produce).",
        );
        r.counter(
            SCHEMA_REGISTRY_ERRORS,
            "Writer-schema look-ups that found the schema registry unreachable or answering 5xx; each is retried while the records wait.",
        );
        r.histogram(
            FLUSH_SECONDS,
            "Duration of one commit attempt of the tables with their positions, seconds.",
            FLUSH_SECONDS_BUCKETS,
        );
        r.histogram(
            FLUSH_ROWS,
            "Rows written per commit attempt.",
            FLUSH_ROWS_BUCKETS,
        );
        r.counter(COMMITS, "Commit attempts, by result (ok, error).");
        r.gauge(
            LAST_COMMIT,
            "Unix time of the last successful commit, seconds.",
        );
        r.counter(
            SINK_ERRORS,
            "Failed sink operations (commits, checkpoint loads).",
        );
        r.counter(
            SINK_RETRIES,
            "Retries after a failure of the sink or of the dead-letter delivery.",
        );
        r.counter(REBALANCES, "Partition assignment changes handled.");
        r.gauge(ASSIGNED_PARTITIONS, "Input partitions this instance owns.");
        r.gauge(UP, "1 while the service runs, 0 once it is stopping.");
        Ops {
            registry: r,
            ready: Mutex::new(BTreeMap::new()),
            lags: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn readiness<T>(&self, service: &'static str, f: impl FnOnce(&mut Readiness) -> T) -> T {
        let mut m = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(service).or_default())
    }

    /// Declares a service of this process before its run starts (it is not ready until then).
    pub fn register_service(&self, service: &'static str) {
        self.readiness(service, |_| ());
    }

    /// `None` when every registered service is ready, else why not (one line).
    pub fn not_ready(&self) -> Option<String> {
        let m = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        if m.is_empty() {
            return Some("no service started".into());
        }
        let reasons: Vec<String> = m
            .iter()
            .filter_map(|(s, r)| r.reason().map(|why| format!("{s}: {why}")))
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// The answer to `path`.
    pub fn respond(&self, path: &str) -> Response {
        match path {
            "/health" | "/healthz" => Response::text(200, "ok\n"),
            "/ready" | "/readyz" => match self.not_ready() {
                None => Response::text(200, "ready\n"),
                Some(why) => Response::text(503, format!("not ready: {why}\n")),
            },
            "/metrics" => Response {
                status: 200,
                content_type: metrics::CONTENT_TYPE,
                body: self.registry.render(),
            },
            _ => Response::text(404, "not found: try /health, /ready or /metrics\n"),
        }
    }

    /// Serves [`Ops::respond`] on `addr` until the server is dropped.
    pub fn serve(self: &Arc<Self>, addr: SocketAddr) -> std::io::Result<HttpServer> {
        let ops = self.clone();
        HttpServer::start(addr, Arc::new(move |path: &str| ops.respond(path)))
    }

    /// The newest event time (`occurred_at`, Unix ms) applied from each owned partition, for
    /// `gigstream_consumer_lag_seconds` and `gigstream_event_time_watermark_seconds`. The
    /// runner reports it with each lag report through the `RunObserver::event_times` hook
    /// (see the crate docs); partitions with no event yet are left out.
    pub fn record_event_times(
        &self,
        service: &'static str,
        watermarks: &BTreeMap<(Topic, u32), i64>,
    ) {
        self.lag_state(service, |s| s.watermarks = watermarks.clone());
        self.update_lag_seconds(service, now_ms());
    }

    fn lag_state(&self, service: &'static str, f: impl FnOnce(&mut LagState)) {
        let mut m = self.lags.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(service).or_default());
    }

    /// Sets the lag-in-seconds and watermark gauges of `service` from its last lag and event
    /// time reports, as of `now_ms`: a partition with records left is `now - watermark`
    /// seconds behind (0 at least), one with none left is 0 behind; a partition without an
    /// event time yet has no lag-in-seconds series. Partitions no longer owned disappear.
    pub fn update_lag_seconds(&self, service: &'static str, now_ms: i64) {
        let state = {
            let m = self.lags.lock().unwrap_or_else(|p| p.into_inner());
            m.get(service).cloned().unwrap_or_default()
        };
        let labels = |t: &Topic, p: &u32| {
            with(
                service,
                &[("topic", t.name()), ("partition", &p.to_string())],
            )
        };
        let behind = state.records.iter().filter_map(|((t, p), left)| {
            let seconds = if *left == 0 {
                0.0
            } else {
                let wm = state.watermarks.get(&(*t, *p))?;
                ((now_ms - wm).max(0) as f64) / 1000.0
            };
            Some((labels(t, p), seconds))
        });
        let _ = self
            .registry
            .replace_gauges(CONSUMER_LAG_SECONDS, &svc(service), behind);
        let owned = |k: &(Topic, u32)| state.records.is_empty() || state.records.contains_key(k);
        let marks = state
            .watermarks
            .iter()
            .filter(|(k, _)| owned(k))
            .map(|((t, p), wm)| (labels(t, p), *wm as f64 / 1000.0));
        let _ = self
            .registry
            .replace_gauges(EVENT_TIME_WATERMARK, &svc(service), marks);
    }

    fn count(&self, name: &'static str, labels: Labels, v: u64) {
        if v > 0 {
            let _ = self.registry.inc(name, labels, v);
        }
    }
}

impl RunObserver for Ops {
    fn event_times(&self, service: &'static str, watermarks: &BTreeMap<(Topic, u32), i64>) {
        self.record_event_times(service, watermarks);
    }

    fn started(&self, service: &'static str, exclusive: bool) {
        self.readiness(service, |r| {
            r.started = true;
            r.exclusive = exclusive;
        });
        let _ = self.registry.set(UP, svc(service), 1.0);
        let _ = self.registry.set(ASSIGNED_PARTITIONS, svc(service), 0.0);
        for name in [
            SINK_ERRORS,
            SINK_RETRIES,
            REBALANCES,
            SCHEMA_REGISTRY_ERRORS,
        ] {
            let _ = self.registry.inc(name, svc(service), 0);
        }
        let _ = self.registry.inc(
            BROKER_ERRORS,
            with(service, &[("operation", "dlq_produce")]),
            0,
        );
    }

    fn polled(&self, service: &'static str, batch: &PollBatch) {
        for t in Topic::ALL {
            let i = topic_index(t);
            if batch.consumed[i] == 0 {
                continue;
            }
            let l = || with(service, &[("topic", t.name())]);
            self.count(EVENTS_CONSUMED, l(), batch.consumed[i]);
            // Created at 0 with the topic, so a rate() sees the first events.
            let _ = self.registry.inc(EVENTS_APPLIED, l(), batch.applied[i]);
            self.count(EVENTS_DUPLICATE, l(), batch.duplicates[i]);
        }
    }

    fn lag(
        &self,
        service: &'static str,
        _total: Option<u64>,
        partitions: Option<&BTreeMap<(Topic, u32), u64>>,
    ) {
        let Some(parts) = partitions else { return };
        self.lag_state(service, |s| s.records = parts.clone());
        self.update_lag_seconds(service, now_ms());
        let values = parts.iter().map(|((t, p), lag)| {
            let l = with(
                service,
                &[("topic", t.name()), ("partition", &p.to_string())],
            );
            (l, *lag as f64)
        });
        let _ = self
            .registry
            .replace_gauges(CONSUMER_LAG, &svc(service), values);
    }

    fn committed(&self, service: &'static str, report: &CommitReport<'_>) {
        let ok = report.result.is_ok();
        let _ = self
            .registry
            .observe(FLUSH_SECONDS, svc(service), report.duration.as_secs_f64());
        let _ = self
            .registry
            .observe(FLUSH_ROWS, svc(service), report.rows as f64);
        let result = if ok { "ok" } else { "error" };
        self.count(COMMITS, with(service, &[("result", result)]), 1);
        if ok {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO);
            let _ = self
                .registry
                .set(LAST_COMMIT, svc(service), now.as_secs_f64());
        } else {
            self.count(SINK_ERRORS, svc(service), 1);
        }
        self.readiness(service, |r| {
            r.last_sink = Some(report.result.map_err(str::to_string));
        });
    }

    fn sink_result(&self, service: &'static str, _what: &str, result: Result<(), &str>) {
        if result.is_err() {
            self.count(SINK_ERRORS, svc(service), 1);
        }
        self.readiness(service, |r| {
            r.last_sink = Some(result.map_err(str::to_string))
        });
    }

    fn retry(&self, service: &'static str, what: &str, _error: &str, _delay: Duration) {
        if what == WAIT_SCHEMAS {
            // Not the sink's: the records wait for their writer schemas.
            self.count(SCHEMA_REGISTRY_ERRORS, svc(service), 1);
            return;
        }
        self.count(SINK_RETRIES, svc(service), 1);
        // The runner's name for a failed delivery to the `.dlq` topics.
        if what.contains("dead letters") {
            self.count(
                BROKER_ERRORS,
                with(service, &[("operation", "dlq_produce")]),
                1,
            );
        }
    }

    fn schema_registry(&self, service: &'static str, result: Result<(), &str>) {
        self.readiness(service, |r| r.registry = result.err().map(str::to_string));
    }

    fn assignment(&self, service: &'static str, owned: &[(Topic, u32)]) {
        self.count(REBALANCES, svc(service), 1);
        let _ = self
            .registry
            .set(ASSIGNED_PARTITIONS, svc(service), owned.len() as f64);
        // (The lag of partitions no longer owned disappears with the next lag report.)
        self.readiness(service, |r| r.assigned = owned.len());
    }

    fn dead_letters(&self, service: &'static str, counts: &BTreeMap<(String, String), u64>) {
        for ((topic, code), n) in counts {
            self.count(
                DEAD_LETTERS,
                with(service, &[("topic", topic), ("reason", code)]),
                *n,
            );
        }
    }

    fn stopping(&self, service: &'static str) {
        self.readiness(service, |r| r.stopping = true);
        let _ = self.registry.set(UP, svc(service), 0.0);
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
