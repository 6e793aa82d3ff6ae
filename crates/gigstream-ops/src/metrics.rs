//! gigstream's metrics on `prometheus-client`: counters, gauges and fixed-bucket histograms
//! with labels, declared by name, exposed in the OpenMetrics text format (which Prometheus
//! scrapes; `# EOF` ends it).
//!
//! Updates take a lock per series; callers update per poll batch or per commit, not per record.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

/// Label pairs, in the order given.
pub type Labels = Vec<(&'static str, String)>;

/// The content type of [`Registry::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Builds a histogram with a family's buckets.
#[derive(Clone)]
struct Buckets(&'static [f64]);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

type GaugeF64 = Gauge<f64, AtomicU64>;

/// Label values as the text format must carry them (prometheus-client writes them as they
/// are): a backslash, a double quote and a line break escaped.
fn escaped(labels: impl IntoIterator<Item = (&'static str, String)>) -> Labels {
    labels
        .into_iter()
        .map(|(k, v)| {
            if v.contains(['\\', '"', '\n']) {
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                (k, v)
            } else {
                (k, v)
            }
        })
        .collect()
}

#[derive(Clone)]
enum Metric {
    Counter(Family<Labels, Counter>),
    Gauge(Family<Labels, GaugeF64>),
    Histogram(Family<Labels, Histogram, Buckets>),
}

impl Metric {
    fn kind(&self) -> &'static str {
        match self {
            Metric::Counter(_) => "counter",
            Metric::Gauge(_) => "gauge",
            Metric::Histogram(_) => "histogram",
        }
    }
}

#[derive(Default)]
struct Inner {
    registry: prometheus_client::registry::Registry,
    metrics: BTreeMap<&'static str, Metric>,
    /// The label sets set on each gauge, so that a set of them can be replaced.
    gauge_series: BTreeMap<&'static str, BTreeSet<Labels>>,
}

/// Metric families by name, each with its series.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.lock().metrics.keys().copied().collect();
        f.debug_struct("Registry").field("metrics", &names).finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetricsError {
    #[error("metric {0} is not registered")]
    Unknown(&'static str),
    #[error("metric {name} is a {is}, not a {wanted}")]
    WrongKind {
        name: &'static str,
        is: &'static str,
        wanted: &'static str,
    },
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, name: &'static str, help: &'static str, metric: Metric) {
        let mut inner = self.lock();
        if inner.metrics.contains_key(name) {
            return;
        }
        // OpenMetrics names a counter's family without `_total` and its sample with it.
        let family_name = match &metric {
            Metric::Counter(_) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        // prometheus-client ends the help text with a period itself.
        let help = help.trim_end_matches('.');
        match &metric {
            Metric::Counter(f) => inner.registry.register(family_name, help, f.clone()),
            Metric::Gauge(f) => inner.registry.register(family_name, help, f.clone()),
            Metric::Histogram(f) => inner.registry.register(family_name, help, f.clone()),
        }
        inner.metrics.insert(name, metric);
    }

    /// Declares a counter `name` (ending in `_total`; a family is rendered once it has a
    /// series, so the observer creates the ones a dashboard needs at 0).
    pub fn counter(&self, name: &'static str, help: &'static str) {
        debug_assert!(
            name.ends_with("_total"),
            "counter {name} must end in _total"
        );
        self.register(name, help, Metric::Counter(Family::default()));
    }

    pub fn gauge(&self, name: &'static str, help: &'static str) {
        self.register(name, help, Metric::Gauge(Family::default()));
    }

    /// Declares a histogram with fixed bucket upper bounds (ascending; +Inf is implied).
    pub fn histogram(&self, name: &'static str, help: &'static str, bounds: &'static [f64]) {
        debug_assert!(
            bounds.windows(2).all(|w| w[0] < w[1]),
            "buckets must ascend"
        );
        let family = Family::new_with_constructor(Buckets(bounds));
        self.register(name, help, Metric::Histogram(family));
    }

    fn metric(&self, name: &'static str, wanted: &'static str) -> Result<Metric, MetricsError> {
        let m = self
            .lock()
            .metrics
            .get(name)
            .cloned()
            .ok_or(MetricsError::Unknown(name))?;
        if m.kind() != wanted {
            return Err(MetricsError::WrongKind {
                name,
                is: m.kind(),
                wanted,
            });
        }
        Ok(m)
    }

    /// Adds `v` to a counter's series (created at 0).
    pub fn inc(&self, name: &'static str, labels: Labels, v: u64) -> Result<(), MetricsError> {
        if let Metric::Counter(f) = self.metric(name, "counter")? {
            f.get_or_create(&escaped(labels)).inc_by(v);
        }
        Ok(())
    }

    /// Sets a gauge's series.
    pub fn set(&self, name: &'static str, labels: Labels, v: f64) -> Result<(), MetricsError> {
        if let Metric::Gauge(f) = self.metric(name, "gauge")? {
            let labels = escaped(labels);
            f.get_or_create(&labels).set(v);
            self.lock()
                .gauge_series
                .entry(name)
                .or_default()
                .insert(labels);
        }
        Ok(())
    }

    /// Replaces every series of gauge `name` whose labels start with `prefix` by `values`
    /// (e.g. per-partition lag after a rebalance: revoked partitions disappear).
    pub fn replace_gauges(
        &self,
        name: &'static str,
        prefix: &[(&'static str, String)],
        values: impl IntoIterator<Item = (Labels, f64)>,
    ) -> Result<(), MetricsError> {
        let Metric::Gauge(f) = self.metric(name, "gauge")? else {
            return Ok(());
        };
        let prefix = escaped(prefix.iter().cloned());
        let values: Vec<(Labels, f64)> = values.into_iter().map(|(l, v)| (escaped(l), v)).collect();
        let mut inner = self.lock();
        let known = inner.gauge_series.entry(name).or_default();
        known.retain(|labels| {
            let keep = !labels.starts_with(&prefix);
            if !keep {
                f.remove(labels);
            }
            keep
        });
        for (labels, v) in values {
            f.get_or_create(&labels).set(v);
            known.insert(labels);
        }
        Ok(())
    }

    /// Records one observation in a histogram.
    pub fn observe(&self, name: &'static str, labels: Labels, v: f64) -> Result<(), MetricsError> {
        if let Metric::Histogram(f) = self.metric(name, "histogram")? {
            f.get_or_create(&escaped(labels)).observe(v);
        }
        Ok(())
    }

    /// The value of a counter or gauge series, if it exists (tests, readiness).
    pub fn value(&self, name: &'static str, labels: &[(&'static str, String)]) -> Option<f64> {
        let labels = escaped(labels.iter().cloned());
        match self.lock().metrics.get(name)? {
            Metric::Counter(f) => f.get(&labels).map(|c| c.get() as f64),
            Metric::Gauge(f) => f.get(&labels).map(|g| g.get()),
            Metric::Histogram(_) => None,
        }
    }

    /// The OpenMetrics text of every family ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.lock().registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&'static str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn exposition_format() {
        let r = Registry::new();
        r.counter("t_events_total", "Events read.");
        r.gauge("t_lag", "Records behind.");
        r.histogram("t_flush_seconds", "Flush time.", &[0.1, 1.0]);
        let sla = |topic: &str| l(&[("service", "sla"), ("topic", topic)]);
        r.inc("t_events_total", sla("telemetry"), 3).unwrap();
        r.inc("t_events_total", sla("telemetry"), 2).unwrap();
        r.inc("t_events_total", sla("or\"d\\e\nrs"), 1).unwrap();
        r.set("t_lag", l(&[("partition", "0")]), 12.5).unwrap();
        for v in [0.05, 0.1, 0.5, 7.0] {
            r.observe("t_flush_seconds", l(&[("service", "sla")]), v)
                .unwrap();
        }
        let text = r.render();
        for line in [
            "# HELP t_events Events read.",
            "# TYPE t_events counter",
            r#"t_events_total{service="sla",topic="telemetry"} 5"#,
            "# TYPE t_flush_seconds histogram",
            r#"t_flush_seconds_bucket{le="0.1",service="sla"} 2"#,
            r#"t_flush_seconds_bucket{le="1.0",service="sla"} 3"#,
            r#"t_flush_seconds_bucket{le="+Inf",service="sla"} 4"#,
            r#"t_flush_seconds_sum{service="sla"} 7.65"#,
            r#"t_flush_seconds_count{service="sla"} 4"#,
            "# TYPE t_lag gauge",
            r#"t_lag{partition="0"} 12.5"#,
            "# EOF",
        ] {
            assert!(text.lines().any(|x| x == line), "{line} in:\n{text}");
        }
        // A label value with a quote, a backslash and a line break stays one escaped line.
        assert!(
            text.lines()
                .any(|x| x == r#"t_events_total{service="sla",topic="or\"d\\e\nrs"} 1"#),
            "{text}"
        );
        assert_eq!(r.value("t_events_total", &sla("telemetry")), Some(5.0));
        assert_eq!(r.value("t_lag", &l(&[("partition", "0")])), Some(12.5));
        assert_eq!(r.value("t_lag", &l(&[("partition", "9")])), None);
    }

    #[test]
    fn kinds_and_names_are_checked() {
        let r = Registry::new();
        r.counter("t_total", "c");
        assert_eq!(
            r.set("t_total", vec![], 1.0),
            Err(MetricsError::WrongKind {
                name: "t_total",
                is: "counter",
                wanted: "gauge"
            })
        );
        assert_eq!(
            r.inc("t_missing_total", vec![], 1),
            Err(MetricsError::Unknown("t_missing_total"))
        );
    }

    #[test]
    fn replacing_gauges_drops_old_series_of_the_prefix_only() {
        let r = Registry::new();
        r.gauge("t_lag", "lag");
        let s = |svc: &str, p: &str| l(&[("service", svc), ("partition", p)]);
        r.set("t_lag", s("sla", "0"), 1.0).unwrap();
        r.set("t_lag", s("sla", "1"), 2.0).unwrap();
        r.set("t_lag", s("billing", "0"), 3.0).unwrap();
        r.replace_gauges("t_lag", &l(&[("service", "sla")]), [(s("sla", "2"), 4.0)])
            .unwrap();
        let text = r.render();
        assert!(!text.contains(r#"service="sla",partition="0""#), "{text}");
        assert!(
            text.contains(r#"t_lag{service="sla",partition="2"} 4.0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"t_lag{service="billing",partition="0"} 3.0"#),
            "{text}"
        );
    }
}
