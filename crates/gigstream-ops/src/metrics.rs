//! A small metrics registry: counters, gauges and fixed-bucket histograms with labels, rendered
//! in the Prometheus text exposition format (version 0.0.4).
//!
//! Updates take one mutex; callers update per poll batch or per commit, not per record.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, MutexGuard};

/// Label pairs, in the order given.
pub type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Clone)]
enum Series {
    Value(f64),
    Histogram {
        /// Per bucket (not cumulative), plus one for +Inf.
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

#[derive(Debug)]
struct Family {
    help: &'static str,
    kind: Kind,
    /// Upper bounds of a histogram's buckets, ascending.
    bounds: &'static [f64],
    series: BTreeMap<Labels, Series>,
}

/// Metric families by name, each with its series.
#[derive(Debug, Default)]
pub struct Registry {
    families: Mutex<BTreeMap<&'static str, Family>>,
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

    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, Family>> {
        self.families.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, name: &'static str, help: &'static str, kind: Kind, bounds: &'static [f64]) {
        debug_assert!(valid_name(name), "invalid metric name {name}");
        debug_assert!(
            bounds.windows(2).all(|w| w[0] < w[1]),
            "buckets must ascend"
        );
        self.lock().entry(name).or_insert(Family {
            help,
            kind,
            bounds,
            series: BTreeMap::new(),
        });
    }

    /// Declares a counter (rendered with its HELP and TYPE even before it has series).
    pub fn counter(&self, name: &'static str, help: &'static str) {
        self.register(name, help, Kind::Counter, &[]);
    }

    pub fn gauge(&self, name: &'static str, help: &'static str) {
        self.register(name, help, Kind::Gauge, &[]);
    }

    /// Declares a histogram with fixed bucket upper bounds (ascending; +Inf is implied).
    pub fn histogram(&self, name: &'static str, help: &'static str, bounds: &'static [f64]) {
        self.register(name, help, Kind::Histogram, bounds);
    }

    fn with_family<T>(
        &self,
        name: &'static str,
        kind: Kind,
        f: impl FnOnce(&mut Family) -> T,
    ) -> Result<T, MetricsError> {
        let mut families = self.lock();
        let fam = families.get_mut(name).ok_or(MetricsError::Unknown(name))?;
        if fam.kind != kind {
            return Err(MetricsError::WrongKind {
                name,
                is: fam.kind.name(),
                wanted: kind.name(),
            });
        }
        Ok(f(fam))
    }

    /// Adds `v` to a counter's series (created at 0).
    pub fn inc(&self, name: &'static str, labels: Labels, v: u64) -> Result<(), MetricsError> {
        self.with_family(name, Kind::Counter, |fam| {
            if let Series::Value(x) = fam.series.entry(labels).or_insert(Series::Value(0.0)) {
                *x += v as f64;
            }
        })
    }

    /// Sets a gauge's series.
    pub fn set(&self, name: &'static str, labels: Labels, v: f64) -> Result<(), MetricsError> {
        self.with_family(name, Kind::Gauge, |fam| {
            fam.series.insert(labels, Series::Value(v));
        })
    }

    /// Replaces every series of gauge `name` whose labels start with `prefix` by `values`
    /// (e.g. per-partition lag after a rebalance: revoked partitions disappear).
    pub fn replace_gauges(
        &self,
        name: &'static str,
        prefix: &[(&'static str, String)],
        values: impl IntoIterator<Item = (Labels, f64)>,
    ) -> Result<(), MetricsError> {
        self.with_family(name, Kind::Gauge, |fam| {
            fam.series.retain(|k, _| !k.starts_with(prefix));
            for (labels, v) in values {
                fam.series.insert(labels, Series::Value(v));
            }
        })
    }

    /// Records one observation in a histogram.
    pub fn observe(&self, name: &'static str, labels: Labels, v: f64) -> Result<(), MetricsError> {
        self.with_family(name, Kind::Histogram, |fam| {
            let n = fam.bounds.len() + 1;
            let series = fam
                .series
                .entry(labels)
                .or_insert_with(|| Series::Histogram {
                    counts: vec![0; n],
                    sum: 0.0,
                    count: 0,
                });
            if let Series::Histogram { counts, sum, count } = series {
                let i = fam.bounds.iter().position(|b| v <= *b).unwrap_or(n - 1);
                counts[i] += 1;
                *sum += v;
                *count += 1;
            }
        })
    }

    /// The value of a counter or gauge series (tests, readiness).
    pub fn value(&self, name: &'static str, labels: &[(&'static str, String)]) -> Option<f64> {
        let families = self.lock();
        match families.get(name)?.series.get(labels)? {
            Series::Value(v) => Some(*v),
            Series::Histogram { .. } => None,
        }
    }

    /// The Prometheus text format of every family, by name; series by labels.
    pub fn render(&self) -> String {
        let families = self.lock();
        let mut out = String::new();
        for (name, fam) in families.iter() {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(fam.help));
            let _ = writeln!(out, "# TYPE {name} {}", fam.kind.name());
            for (labels, series) in &fam.series {
                match series {
                    Series::Value(v) => {
                        let _ = writeln!(out, "{name}{} {}", render_labels(labels, None), num(*v));
                    }
                    Series::Histogram { counts, sum, count } => {
                        let mut cumulative = 0;
                        for (i, c) in counts.iter().enumerate() {
                            cumulative += c;
                            let le = fam.bounds.get(i).map_or("+Inf".to_string(), |b| num(*b));
                            let _ = writeln!(
                                out,
                                "{name}_bucket{} {cumulative}",
                                render_labels(labels, Some(&le))
                            );
                        }
                        let l = render_labels(labels, None);
                        let _ = writeln!(out, "{name}_sum{l} {}", num(*sum));
                        let _ = writeln!(out, "{name}_count{l} {count}");
                    }
                }
            }
        }
        out
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A sample value: integers without a fraction, `+Inf`/`-Inf`/`NaN` as Prometheus spells them.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn render_labels(labels: &[(&'static str, String)], le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut out = String::from("{");
    let mut first = true;
    let le_pair = le.map(|v| ("le", v));
    for (k, v) in labels.iter().map(|(k, v)| (*k, v.as_str())).chain(le_pair) {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{k}=\"{}\"", escape_value(v));
    }
    out.push('}');
    out
}

fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
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
        r.gauge("t_lag", "Records behind.\nPer partition.");
        r.histogram("t_flush_seconds", "Flush time.", &[0.1, 1.0]);
        r.counter("t_unused_total", "Never incremented.");
        r.inc(
            "t_events_total",
            l(&[("service", "sla"), ("topic", "telemetry")]),
            3,
        )
        .unwrap();
        r.inc(
            "t_events_total",
            l(&[("service", "sla"), ("topic", "telemetry")]),
            2,
        )
        .unwrap();
        r.inc(
            "t_events_total",
            l(&[("service", "sla"), ("topic", "or\"d\\e\nrs")]),
            1,
        )
        .unwrap();
        r.set("t_lag", l(&[("partition", "0")]), 12.5).unwrap();
        for v in [0.05, 0.1, 0.5, 7.0] {
            r.observe("t_flush_seconds", l(&[("service", "sla")]), v)
                .unwrap();
        }
        let text = r.render();
        let expected = r#"# HELP t_events_total Events read.
# TYPE t_events_total counter
t_events_total{service="sla",topic="or\"d\\e\nrs"} 1
t_events_total{service="sla",topic="telemetry"} 5
# HELP t_flush_seconds Flush time.
# TYPE t_flush_seconds histogram
t_flush_seconds_bucket{service="sla",le="0.1"} 2
t_flush_seconds_bucket{service="sla",le="1"} 3
t_flush_seconds_bucket{service="sla",le="+Inf"} 4
t_flush_seconds_sum{service="sla"} 7.65
t_flush_seconds_count{service="sla"} 4
# HELP t_lag Records behind.\nPer partition.
# TYPE t_lag gauge
t_lag{partition="0"} 12.5
# HELP t_unused_total Never incremented.
# TYPE t_unused_total counter
"#;
        assert_eq!(text, expected);
        assert_eq!(
            r.value(
                "t_events_total",
                &l(&[("service", "sla"), ("topic", "telemetry")])
            ),
            Some(5.0)
        );
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
            r.inc("t_missing", vec![], 1),
            Err(MetricsError::Unknown("t_missing"))
        );
        assert!(valid_name("gigstream_events_total"));
        assert!(!valid_name("9lives"));
        assert!(!valid_name("with-dash"));
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
            text.contains(r#"t_lag{service="sla",partition="2"} 4"#),
            "{text}"
        );
        assert!(
            text.contains(r#"t_lag{service="billing",partition="0"} 3"#),
            "{text}"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(f64::INFINITY), "+Inf");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(-2.0), "-2");
    }
}
