//! The Grafana dashboards in `dashboards/` and the SQL cookbook `docs/queries.md`, run for real.
//!
//! Without a server, `dashboard_json_is_well_formed` checks the dashboards' structure against
//! the ClickHouse plugin's own query model (grafana-clickhouse-datasource v4.20,
//! `src/types/queryBuilder.ts` `QueryType`, `src/types/sql.ts` `EditorType`, and the formats of
//! `src/data/utils.ts` `mapQueryTypeToGrafanaFormat`): unique panel ids, every query on the
//! data source variable (`${datasource}`, defaulting to the provisioned uid
//! `gigstream-clickhouse`; Prometheus queries on `${prometheus}`), raw SQL whose `queryType`
//! and `format` are a pair the plugin itself writes, every table read with `FINAL`, every
//! `IN (${var})` filter inside `$__conditionalAll` (so an empty or All variable never gives
//! `IN ()`), units on percentages, milliseconds and money, template variables declared and
//! used, Prometheus expressions naming only metrics the services export, and dashboards a
//! user can edit and save (`editable`, the provider's `allowUiUpdates`).
//!
//! With `GIGSTREAM_CLICKHOUSE_URL` set, `dashboards_and_cookbook_run_on_clickhouse_and_chdb`
//! generates a stream (60,000 events over 60 days) into a temporary data directory, runs the
//! three services over the embedded log into a ClickHouse database of its own (committing
//! several times, so every table holds several row versions and `FINAL` matters) and into
//! Parquet, then:
//!
//! - expands every panel's SQL as Grafana and the ClickHouse plugin do (template variables set
//!   to All, to every value selected one by one, and to each single value;
//!   `$__conditionalAll` as the plugin applies it; `$__timeFilter`, `$__dateFilter`, `$__fromTime`,
//!   `$__toTime`, `$__interval_s`, `$__timeInterval`, ... for a fixed range covering the
//!   data) and runs it: an error, or an empty result with the variables at All, fails the test
//!   with the dashboard, the panel and ClickHouse's message; a time-series panel must return a
//!   `time` column first;
//! - runs every query of `docs/queries.md` (see `queries_doc.rs`), and the portable ones on
//!   the Parquet tables too, comparing the answers;
//! - exports the tables (every row version) and runs all the expanded queries again on a
//!   current ClickHouse in-process (`tests/chdb/check_queries.py`, chdb), comparing row
//!   counts; skipped with a message when `python3 -c 'import chdb'` fails, unless
//!   `GIGSTREAM_TEST_SERVICES=require`;
//! - drops its database when everything passed (it is kept, and named, on a failure).

use gigstream_clickhouse::{ClickHouseConfig, Connection};
use gigstream_config::DataDir;
use gigstream_gen::GenConfig;
use gigstream_host::{run_service, Backends, ServiceRun};
use gigstream_runtime::RunOptions;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The uid of the provisioned data source (`infra/grafana/provisioning/datasources`).
pub const DATASOURCE_UID: &str = "gigstream-clickhouse";
/// The uid of the provisioned Prometheus data source.
pub const PROMETHEUS_UID: &str = "gigstream-prometheus";
/// What panels and queries name as their data source: the dashboard's data source variables.
pub const DATASOURCE_VAR: &str = "${datasource}";
pub const PROMETHEUS_VAR: &str = "${prometheus}";
/// The plugin's id.
pub const PLUGIN_ID: &str = "grafana-clickhouse-datasource";
/// The plugin's query types (`QueryType` in its `src/types/queryBuilder.ts`) with the format
/// its editor writes for each (`mapQueryTypeToGrafanaFormat`, `src/data/utils.ts`: sqlds'
/// formats 0 time series, 1 table, 2 logs, 3 traces; anything else becomes 256).
pub const QUERY_TYPES: [(&str, i64); 4] =
    [("table", 1), ("logs", 2), ("timeseries", 0), ("traces", 3)];
/// The plugin's editor types (`EditorType`, `src/types/sql.ts`).
pub const EDITOR_TYPES: [&str; 2] = ["sql", "builder"];
const PANEL_TYPES: [&str; 4] = ["timeseries", "table", "stat", "bargauge"];
/// Grafana's default number of points per panel, for `$__interval_s`.
const MAX_DATA_POINTS: i64 = 1000;

pub fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

/// The tables of the DDL.
pub fn schema_tables() -> BTreeSet<String> {
    crate::tables_doc::ddl_schema(&root().join("schemas/clickhouse"))
        .expect("schemas/clickhouse parses")
        .into_keys()
        .collect()
}

/// Tokens of a SQL text: identifiers (with dots and backticks), numbers, quoted strings and
/// single punctuation characters.
fn tokens(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(chars[start..i.min(chars.len())].iter().collect());
        } else if c.is_alphanumeric() || c == '_' || c == '`' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '`' | '.' | '$'))
            {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// The tables of `known` that `sql` reads without `FINAL` (after `FROM` or `JOIN`).
pub fn tables_without_final(sql: &str, known: &BTreeSet<String>) -> Vec<String> {
    let t = tokens(sql);
    let mut out = Vec::new();
    for i in 0..t.len() {
        let kw = t[i].to_ascii_uppercase();
        if kw != "FROM" && kw != "JOIN" {
            continue;
        }
        let Some(next) = t.get(i + 1) else { continue };
        let name = next.rsplit('.').next().unwrap_or(next).trim_matches('`');
        if known.contains(name)
            && !t
                .get(i + 2)
                .is_some_and(|f| f.eq_ignore_ascii_case("FINAL"))
        {
            out.push(name.to_string());
        }
    }
    out
}

/// The dashboard's time range and interval, as Grafana hands them to the plugin.
#[derive(Debug, Clone, Copy)]
pub struct TimeRange {
    /// Unix seconds.
    pub from: i64,
    pub to: i64,
    /// Seconds per point: the range over the panel's data points, at least the panel's
    /// minimum interval.
    pub interval_s: i64,
}

/// The UTC date of a unix time in seconds, as `YYYY-MM-DD`.
fn utc_date(secs: i64) -> String {
    gigstream_core::time::date_of(secs * 1000).to_string()
}

/// Arguments of a macro call starting at `open` (the `(`): the text up to the matching `)`,
/// split at top-level commas, and the index after the `)`.
fn macro_args(s: &str, open: usize) -> Result<(Vec<String>, usize), String> {
    let bytes = s.as_bytes();
    let mut depth = 0;
    let mut quote = false;
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut i = open;
    while i < bytes.len() {
        let c = s[i..].chars().next().expect("in bounds");
        i += c.len_utf8();
        if quote {
            cur.push(c);
            if c == '\'' {
                quote = false;
            }
            continue;
        }
        match c {
            '\'' => {
                quote = true;
                cur.push(c);
            }
            '(' => {
                depth += 1;
                if depth > 1 {
                    cur.push(c);
                }
            }
            ')' => {
                depth -= 1;
                if depth == 0 {
                    if !cur.trim().is_empty() || !args.is_empty() {
                        args.push(cur.trim().to_string());
                    }
                    return Ok((args, i));
                }
                cur.push(c);
            }
            ',' if depth == 1 => args.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    Err(format!("unbalanced parentheses after {}", &s[..open]))
}

/// Expands the macros of the ClickHouse data source plugin (grafana-clickhouse-datasource
/// v4, `pkg/macros`) exactly as it does: `$__timeFilter(c)` is
/// `c >= toDateTime(FROM) AND c <= toDateTime(TO)`, `$__timeInterval(c)` is
/// `toStartOfInterval(toDateTime(c), INTERVAL N second)`, and so on. An unknown macro is an
/// error.
pub fn expand_macros(sql: &str, r: &TimeRange) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(pos) = rest.find("$__") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 3..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let tail = &after[name_len..];
        let (args, consumed) = if tail.starts_with('(') {
            let (a, end) = macro_args(tail, 0)?;
            (a, end)
        } else {
            (Vec::new(), 0)
        };
        let one = |what: &str| -> Result<&str, String> {
            match args.as_slice() {
                [a] => Ok(a.as_str()),
                _ => Err(format!(
                    "$__{what} takes 1 argument, got {}: {args:?}",
                    args.len()
                )),
            }
        };
        let dt = |s: i64| format!("toDateTime({s})");
        let ms = |s: i64| format!("fromUnixTimestamp64Milli({})", s * 1000);
        let date = |s: i64| format!("toDate('{}')", utc_date(s));
        let n = r.interval_s.max(1);
        let text = match name {
            "fromTime" => dt(r.from),
            "toTime" => dt(r.to),
            "fromTime_ms" => ms(r.from),
            "toTime_ms" => ms(r.to),
            "interval_s" => n.to_string(),
            "timeFilter" => {
                let c = one(name)?;
                format!("{c} >= {} AND {c} <= {}", dt(r.from), dt(r.to))
            }
            "timeFilter_ms" => {
                let c = one(name)?;
                format!("{c} >= {} AND {c} <= {}", ms(r.from), ms(r.to))
            }
            "dateFilter" => {
                let c = one(name)?;
                format!("{c} >= {} AND {c} <= {}", date(r.from), date(r.to))
            }
            "dateTimeFilter" | "dt" => match args.as_slice() {
                [d, t] => format!(
                    "({d} >= {} AND {d} <= {}) AND ({t} >= {} AND {t} <= {})",
                    date(r.from),
                    date(r.to),
                    dt(r.from),
                    dt(r.to)
                ),
                _ => return Err(format!("$__{name} takes 2 arguments: {args:?}")),
            },
            "timeInterval" => format!(
                "toStartOfInterval(toDateTime({}), INTERVAL {n} second)",
                one(name)?
            ),
            "timeInterval_ms" => format!(
                "toStartOfInterval(toDateTime64({}, 3), INTERVAL {} millisecond)",
                one(name)?,
                n * 1000
            ),
            other => return Err(format!("unknown macro $__{other}")),
        };
        out.push_str(&text);
        rest = &tail[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Interpolates template variables as Grafana does before the query reaches the plugin:
/// `${name:singlequote}` is `'a','b'` (quotes in values escaped with a backslash),
/// `${name:sqlstring}` is `'a','b'` (quotes doubled), `${name:csv}`, `${name}`, `$name` and
/// `[[name]]` are `a,b`. A `$name` that is not a variable is an error (Grafana would leave it
/// in the SQL).
pub fn expand_vars(sql: &str, vars: &BTreeMap<String, Vec<String>>) -> Result<String, String> {
    let fmt = |name: &str, format: &str| -> Result<String, String> {
        let vals = vars
            .get(name)
            .ok_or_else(|| format!("unknown template variable ${name}"))?;
        Ok(match format {
            "singlequote" => vals
                .iter()
                .map(|v| format!("'{}'", v.replace('\'', "\\'")))
                .collect::<Vec<_>>()
                .join(","),
            "sqlstring" => vals
                .iter()
                .map(|v| format!("'{}'", v.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(","),
            "" | "csv" | "raw" => vals.join(","),
            other => return Err(format!("unsupported variable format ${{{name}:{other}}}")),
        })
    };
    let mut out = String::new();
    let mut rest = sql;
    loop {
        let dollar = rest.find('$');
        let bracket = rest.find("[[");
        let pos = match (dollar, bracket) {
            (None, None) => break,
            (Some(d), Some(b)) => d.min(b),
            (Some(d), None) => d,
            (None, Some(b)) => b,
        };
        out.push_str(&rest[..pos]);
        let at = &rest[pos..];
        if let Some(inner) = at.strip_prefix("[[") {
            let end = inner
                .find("]]")
                .ok_or_else(|| format!("unterminated [[ in {sql}"))?;
            out.push_str(&fmt(&inner[..end], "")?);
            rest = &inner[end + 2..];
        } else if let Some(after) = at.strip_prefix("$__") {
            // A macro of the plugin or a Grafana global: left for expand_macros.
            out.push_str("$__");
            rest = after;
        } else if let Some(inner) = at.strip_prefix("${") {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("unterminated ${{ in {sql}"))?;
            let spec = &inner[..end];
            let (name, format) = spec.split_once(':').unwrap_or((spec, ""));
            out.push_str(&fmt(name, format)?);
            rest = &inner[end + 1..];
        } else {
            let name_len = at[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(at.len() - 1);
            if name_len == 0 {
                out.push('$');
                rest = &at[1..];
                continue;
            }
            out.push_str(&fmt(&at[1..1 + name_len], "")?);
            rest = &at[1 + name_len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The names of the template variables a SQL text uses.
fn vars_used(sql: &str, declared: &[String]) -> Vec<String> {
    declared
        .iter()
        .filter(|v| {
            sql.contains(&format!("${{{v}}}"))
                || sql.contains(&format!("${{{v}:"))
                || sql.contains(&format!("[[{v}]]"))
                || tokens(sql).iter().any(|t| *t == format!("${v}"))
        })
        .cloned()
        .collect()
}

/// One dashboard file, parsed.
pub struct Dashboard {
    pub file: String,
    pub json: Json,
}

pub fn load_dashboards() -> Vec<Dashboard> {
    let dir = root().join("dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("dashboard readable");
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", p.display()));
            Dashboard {
                file: p.file_name().unwrap().to_string_lossy().into_owned(),
                json,
            }
        })
        .collect()
}

/// Every panel, including those nested in collapsed rows.
pub fn panels(d: &Json) -> Vec<&Json> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        out.push(p);
        for inner in p["panels"].as_array().into_iter().flatten() {
            out.push(inner);
        }
    }
    out
}

/// A template variable: name and the SQL that lists its values.
pub struct Var {
    pub name: String,
    pub sql: String,
}

/// The query variables (those of type `datasource` pick a data source and have no SQL).
fn variables(d: &Json) -> Vec<Var> {
    query_variables(d)
        .into_iter()
        .map(|v| {
            let q = &v["query"];
            let sql = q
                .as_str()
                .map(str::to_string)
                .or_else(|| q["rawSql"].as_str().map(str::to_string))
                .unwrap_or_default();
            Var {
                name: v["name"].as_str().unwrap_or_default().to_string(),
                sql,
            }
        })
        .collect()
}

fn query_variables(d: &Json) -> Vec<&Json> {
    d["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["type"] != "datasource")
        .collect()
}

/// Applies the plugin's `$__conditionalAll(condition, $var)` as it does, before Grafana
/// interpolates the variables (`applyConditionalAll`, `src/data/CHDatasource.ts`): from the
/// last call to the first, the arguments split at commas one parenthesis deep (quotes are not
/// special there either); `1=1` when the variable in the second argument (`$var` or `${var}`)
/// is at All or empty (`all` holds those), else the condition. Anything but two arguments is
/// an error (the plugin would leave the text and ClickHouse reject it).
pub fn expand_conditional_all(sql: &str, all: &BTreeSet<String>) -> Result<String, String> {
    const MACRO: &str = "$__conditionalAll(";
    let mut out = sql.to_string();
    while let Some(at) = out.rfind(MACRO) {
        let open = at + MACRO.len() - 1;
        let bytes = out.as_bytes();
        let (mut depth, mut last, mut args, mut end) = (0i32, open + 1, Vec::new(), None);
        for (i, &b) in bytes.iter().enumerate().skip(open) {
            match b {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b',' if depth == 1 => {
                    args.push(out[last..i].to_string());
                    last = i + 1;
                }
                _ => {}
            }
            if depth == 0 {
                args.push(out[last..i].to_string());
                end = Some(i + 1);
                break;
            }
        }
        let end = end.ok_or_else(|| format!("unbalanced $__conditionalAll in {sql}"))?;
        let [cond, var] = args.as_slice() else {
            return Err(format!(
                "$__conditionalAll takes 2 arguments, got {}: {args:?}",
                args.len()
            ));
        };
        let v = var.trim();
        let name = v
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .or_else(|| v.strip_prefix('$'))
            .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| {
                format!(
                    "the second argument of $__conditionalAll must be a plain $var or ${{var}} (the plugin cannot tell All otherwise), is {v:?}"
                )
            })?;
        let text = if all.contains(name) {
            "1=1".to_string()
        } else {
            cond.clone()
        };
        out.replace_range(at..end, &text);
    }
    Ok(out)
}

/// `IN (${var...})` or `IN ($var)` filters outside `$__conditionalAll`: with no value they
/// become `IN ()`, which ClickHouse before 25 rejects.
fn bare_in_filters(sql: &str) -> Vec<String> {
    // With every variable at All, each $__conditionalAll is gone: what is left is bare.
    let Ok(rest) = expand_conditional_all(sql, &vars_in(sql)) else {
        return Vec::new();
    };
    let upper = rest.to_ascii_uppercase();
    upper
        .match_indices("IN (")
        .filter(|(i, _)| rest[i + 4..].trim_start().starts_with('$'))
        .map(|(i, _)| rest[i..(i + 30).min(rest.len())].to_string())
        .collect()
}

/// Names after `$` or `${` in a text.
fn vars_in(sql: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in sql.match_indices('$') {
        let rest = sql[i + 1..].trim_start_matches('{');
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !name.starts_with("__") {
            out.insert(name);
        }
    }
    out
}

/// The metric names gigstream's services export (`pub const ... = "gigstream_..."` in
/// `crates/gigstream-ops/src/lib.rs`), with a histogram's `_bucket`, `_sum` and `_count`.
fn exported_metrics() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("crates/gigstream-ops/src/lib.rs"))
        .expect("gigstream-ops source");
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let l = line.trim();
        if !(l.starts_with("pub const ") && l.contains(": &str = \"gigstream_")) {
            continue;
        }
        let name = l.split('"').nth(1).unwrap_or_default().to_string();
        for suffix in ["", "_bucket", "_sum", "_count"] {
            out.insert(format!("{name}{suffix}"));
        }
    }
    out
}

/// Whether a panel gives columns named like `column` the unit `unit`: its default, or an
/// override by that name or by a regular expression of the simple forms the dashboards use
/// (`.*_pct$`, `.*CNY.*`, `^payments.*`).
fn has_unit(p: &Json, column: &str, unit: &str) -> bool {
    let fc = &p["fieldConfig"];
    let mut found = fc["defaults"]["unit"] == unit;
    for o in fc["overrides"].as_array().into_iter().flatten() {
        let opt = o["matcher"]["options"].as_str().unwrap_or_default();
        let matches = match o["matcher"]["id"].as_str() {
            Some("byName") => opt == column,
            Some("byRegexp") => simple_regex(opt, column),
            _ => false,
        };
        if matches {
            for prop in o["properties"].as_array().into_iter().flatten() {
                if prop["id"] == "unit" {
                    found = prop["value"] == unit;
                }
            }
        }
    }
    found
}

/// `^?(.*)?LITERAL(.*)?$?` against `s`.
fn simple_regex(re: &str, s: &str) -> bool {
    let anchored_start = re.starts_with('^') || !re.starts_with(".*");
    let anchored_end = re.ends_with('$') || !re.ends_with(".*");
    let lit = re
        .trim_start_matches('^')
        .trim_start_matches(".*")
        .trim_end_matches('$')
        .trim_end_matches(".*");
    match (
        anchored_start && !re.starts_with(".*"),
        anchored_end && !re.ends_with(".*"),
    ) {
        (true, true) => s == lit,
        (true, false) => s.starts_with(lit),
        (false, true) => s.ends_with(lit),
        (false, false) => s.contains(lit),
    }
}

/// Money columns of the dashboards' SQL (amounts in a currency).
const MONEY_COLUMNS: &[&str] = &[
    "gross",
    "platform_fee",
    "tax",
    "net",
    "net_due",
    "charge",
    "credit",
];

/// The panel's minimum interval in seconds ("1m", "30s", "5m", "1h"), 1 when unset.
fn min_interval(p: &Json) -> i64 {
    let Some(s) = p["interval"].as_str() else {
        return 1;
    };
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().unwrap_or(1);
    n * match unit {
        "ms" => 0,
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => 1,
    }
    .max(1)
}

/// Structural problems of a dashboard, in words.
pub fn check_structure(d: &Dashboard, known_tables: &BTreeSet<String>) -> Vec<String> {
    let mut errs = Vec::new();
    let j = &d.json;
    let f = &d.file;
    for key in ["uid", "title"] {
        if j[key].as_str().is_none_or(str::is_empty) {
            errs.push(format!("{f}: no {key}"));
        }
    }
    if j["schemaVersion"].as_i64().is_none_or(|v| v < 36) {
        errs.push(format!("{f}: schemaVersion missing or older than 36"));
    }
    if j["editable"] != true {
        errs.push(format!(
            "{f}: not editable (a user's edit could not be saved)"
        ));
    }
    // The data source variables: ClickHouse (and Prometheus where a panel reads it), each
    // defaulting to the provisioned data source.
    let list: Vec<&Json> = j["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let ds_var = |name: &str, plugin: &str, uid: &str| -> Option<String> {
        let Some(v) = list.iter().find(|v| v["name"] == name) else {
            return Some(format!("{f}: no data source variable {name}"));
        };
        (v["type"] != "datasource" || v["query"] != plugin || v["current"]["value"] != uid)
            .then(|| {
                format!("{f}: variable {name} must be a data source variable of {plugin} defaulting to {uid}")
            })
    };
    errs.extend(ds_var("datasource", PLUGIN_ID, DATASOURCE_UID));
    let uses_prometheus = panels(j)
        .iter()
        .any(|p| p["datasource"]["type"] == "prometheus");
    if uses_prometheus {
        errs.extend(ds_var("prometheus", "prometheus", PROMETHEUS_UID));
    }
    let vars = variables(j);
    let declared: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
    for (v, raw) in vars.iter().zip(query_variables(j)) {
        if raw["type"] != "query" {
            errs.push(format!("{f}: variable {} is not a query variable", v.name));
        }
        if raw["datasource"]["uid"] != DATASOURCE_VAR || raw["datasource"]["type"] != PLUGIN_ID {
            errs.push(format!(
                "{f}: variable {} does not use the data source variable {DATASOURCE_VAR}",
                v.name
            ));
        }
        if raw["includeAll"] != true || raw["multi"] != true {
            errs.push(format!(
                "{f}: variable {} must be multi-value with All",
                v.name
            ));
        }
        if v.sql.trim().is_empty() {
            errs.push(format!("{f}: variable {} has no query", v.name));
        }
        for t in tables_without_final(&v.sql, known_tables) {
            errs.push(format!("{f}: variable {} reads {t} without FINAL", v.name));
        }
    }
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    for p in panels(j) {
        let title = p["title"].as_str().unwrap_or("(untitled)");
        match p["id"].as_i64() {
            None => errs.push(format!("{f}: panel {title:?} has no id")),
            Some(id) if !ids.insert(id) => {
                errs.push(format!("{f}: panel id {id} is used twice ({title:?})"))
            }
            _ => {}
        }
        if p["gridPos"]["w"].as_i64().is_none() || p["gridPos"]["h"].as_i64().is_none() {
            errs.push(format!("{f}: panel {title:?} has no gridPos"));
        }
        let ty = p["type"].as_str().unwrap_or_default();
        if ty == "row" {
            continue;
        }
        if !PANEL_TYPES.contains(&ty) {
            errs.push(format!(
                "{f}: panel {title:?} has type {ty:?}, expected one of {PANEL_TYPES:?}"
            ));
        }
        let prometheus = p["datasource"]["type"] == "prometheus";
        let (want_ds, want_type) = if prometheus {
            (PROMETHEUS_VAR, "prometheus")
        } else {
            (DATASOURCE_VAR, PLUGIN_ID)
        };
        if p["datasource"]["uid"] != want_ds || p["datasource"]["type"] != want_type {
            errs.push(format!(
                "{f}: panel {title:?} does not use the data source variable {DATASOURCE_VAR} (or {PROMETHEUS_VAR})"
            ));
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            errs.push(format!("{f}: panel {title:?} has no query"));
        }
        let mut panel_sql = String::new();
        for t in &targets {
            let r = t["refId"].as_str().unwrap_or("?");
            let at = format!("{f}: panel {title:?} query {r}");
            if t["datasource"]["uid"] != want_ds || t["datasource"]["type"] != want_type {
                errs.push(format!(
                    "{at} does not use the data source of its panel ({want_ds})"
                ));
            }
            if prometheus {
                let expr = t["expr"].as_str().unwrap_or_default();
                if expr.trim().is_empty() {
                    errs.push(format!("{at} has no expr"));
                }
                let known = exported_metrics();
                for name in tokens(expr) {
                    if name.starts_with("gigstream_") && !known.contains(&name) {
                        errs.push(format!("{at}: {name} is not a metric the services export"));
                    }
                }
                continue;
            }
            let editor = t["editorType"].as_str().unwrap_or_default();
            if !EDITOR_TYPES.contains(&editor) {
                errs.push(format!(
                    "{at}: editorType {editor:?} is not one of the plugin's {EDITOR_TYPES:?}"
                ));
            } else if editor != "sql" {
                errs.push(format!("{at}: editorType must be \"sql\" (raw SQL)"));
            }
            let sql = t["rawSql"].as_str().unwrap_or_default();
            if sql.trim().is_empty() {
                errs.push(format!("{at} has no rawSql"));
            }
            panel_sql.push_str(sql);
            panel_sql.push('\n');
            let format = t["format"].as_i64();
            let qt = t["queryType"].as_str().unwrap_or_default();
            match QUERY_TYPES.iter().find(|(name, _)| *name == qt) {
                None => errs.push(format!(
                    "{at}: queryType {qt:?} is not one of the plugin's {:?}",
                    QUERY_TYPES.map(|q| q.0)
                )),
                Some((_, f)) if format != Some(*f) => errs.push(format!(
                    "{at}: queryType {qt:?} goes with format {f} in the plugin, is {format:?}"
                )),
                Some(_) => {}
            }
            let want = if ty == "timeseries" {
                "timeseries"
            } else {
                "table"
            };
            if qt != want {
                errs.push(format!("{at}: queryType must be {want:?} for a {ty} panel"));
            }
            for bare in bare_in_filters(sql) {
                errs.push(format!(
                    "{at}: {bare:?} is outside $__conditionalAll (an empty variable gives IN ())"
                ));
            }
            for tbl in tables_without_final(sql, known_tables) {
                errs.push(format!("{at} reads {tbl} without FINAL"));
            }
            for v in vars_used(sql, &declared) {
                used.insert(v);
            }
            // Unknown variables and macros.
            let dummy: BTreeMap<String, Vec<String>> = declared
                .iter()
                .map(|v| (v.clone(), vec!["x".to_string()]))
                .collect();
            let range = TimeRange {
                from: 0,
                to: 1,
                interval_s: 1,
            };
            if let Err(e) = expand_conditional_all(sql, &BTreeSet::new())
                .and_then(|s| expand_vars(&s, &dummy))
                .and_then(|s| expand_macros(&s, &range).map(|_| ()))
            {
                errs.push(format!("{at}: {e}"));
            }
        }
        // Units: percentages, milliseconds and (where a currency names the series) money.
        let aliases: BTreeSet<String> = {
            let t = tokens(&panel_sql);
            t.windows(2)
                .filter(|w| w[0].eq_ignore_ascii_case("AS"))
                .map(|w| w[1].clone())
                .collect()
        };
        for a in &aliases {
            for (suffix, unit) in [("_pct", "percent"), ("_ms", "ms")] {
                if a.ends_with(suffix) && !has_unit(p, a, unit) {
                    errs.push(format!(
                        "{f}: panel {title:?}: column {a} has no unit {unit}"
                    ));
                }
            }
        }
        let per_currency = panel_sql.contains("currency") && matches!(ty, "timeseries" | "stat");
        if per_currency && aliases.iter().any(|a| MONEY_COLUMNS.contains(&a.as_str())) {
            for (code, unit) in [("CNY", "currencyCNY"), ("USD", "currencyUSD")] {
                let money = aliases
                    .iter()
                    .find(|a| MONEY_COLUMNS.contains(&a.as_str()))
                    .cloned()
                    .unwrap_or_default();
                if !has_unit(p, &format!("{money} {code}"), unit) {
                    errs.push(format!(
                        "{f}: panel {title:?}: {code} amounts have no unit {unit}"
                    ));
                }
            }
        }
    }
    for v in &declared {
        if !used.contains(v) {
            errs.push(format!(
                "{f}: variable {v} is declared but no panel uses it"
            ));
        }
    }
    errs
}

pub(crate) fn dashboard_json_is_well_formed() {
    let known = schema_tables();
    let dashboards = load_dashboards();
    let names: Vec<&str> = dashboards.iter().map(|d| d.file.as_str()).collect();
    for want in ["billing.json", "sla.json", "market.json", "pipeline.json"] {
        assert!(names.contains(&want), "dashboards/{want} is missing");
    }
    let mut errs = Vec::new();
    let mut uids = BTreeSet::new();
    for d in &dashboards {
        errs.extend(check_structure(d, &known));
        if !uids.insert(d.json["uid"].as_str().unwrap_or_default().to_string()) {
            errs.push(format!("{}: uid used by another dashboard", d.file));
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    // The provisioned data source has the uid the panels use.
    let ds = std::fs::read_to_string(
        root().join("infra/grafana/provisioning/datasources/clickhouse.yaml"),
    )
    .unwrap();
    assert!(
        ds.lines()
            .any(|l| l.trim() == format!("uid: {DATASOURCE_UID}")),
        "the provisioned data source must have uid {DATASOURCE_UID}"
    );
    let prom = std::fs::read_to_string(
        root().join("infra/grafana/provisioning/datasources/prometheus.yaml"),
    )
    .expect("the Prometheus data source is provisioned");
    assert!(
        prom.lines()
            .any(|l| l.trim() == format!("uid: {PROMETHEUS_UID}"))
            && prom.lines().any(|l| l.trim() == "type: prometheus"),
        "the provisioned Prometheus data source must have uid {PROMETHEUS_UID}"
    );
    // A user's edit of a provisioned dashboard can be saved.
    let provider = std::fs::read_to_string(
        root().join("infra/grafana/provisioning/dashboards/gigstream.yaml"),
    )
    .unwrap();
    assert!(
        provider.lines().any(|l| l.trim() == "allowUiUpdates: true"),
        "the dashboards are editable, so the provider must allow saving UI updates"
    );
}

pub(crate) fn the_checks_catch_broken_dashboards() {
    let known: BTreeSet<String> = ["sla_monthly".to_string()].into();
    let bad = Dashboard {
        file: "bad.json".into(),
        json: serde_json::json!({
            "uid": "x", "title": "x", "schemaVersion": 39,
            "templating": {"list": [{"name": "service", "type": "query", "includeAll": true,
                "multi": true, "datasource": {"uid": DATASOURCE_VAR, "type": PLUGIN_ID},
                "query": "SELECT DISTINCT service_id FROM sla_monthly"}]},
            "panels": [
                {"id": 1, "type": "timeseries", "title": "a", "gridPos": {"w": 1, "h": 1},
                 "datasource": {"uid": "other"},
                 "targets": [{"refId": "A", "datasource": {"uid": DATASOURCE_VAR, "type": PLUGIN_ID},
                    "editorType": "sql", "queryType": "timeSeries", "format": 1,
                    "rawSql": "SELECT $__nope AS x_pct FROM sla_monthly FINAL WHERE $unknown = 1"}]},
                {"id": 1, "type": "graph", "title": "b", "gridPos": {"w": 1, "h": 1},
                 "datasource": {"uid": DATASOURCE_UID}, "targets": []}
            ]
        }),
    };
    let errs = check_structure(&bad, &known);
    for want in [
        "variable service reads sla_monthly without FINAL",
        "panel \"a\" does not use the data source",
        "queryType \"timeSeries\" is not one of the plugin's",
        "queryType must be \"timeseries\"",
        "column x_pct has no unit percent",
        "no data source variable datasource",
        "not editable",
        "unknown template variable $unknown",
        "panel id 1 is used twice",
        "has type \"graph\"",
        "panel \"b\" has no query",
        "variable service is declared but no panel uses it",
    ] {
        assert!(
            errs.iter().any(|e| e.contains(want)),
            "{want:?} not reported: {errs:#?}"
        );
    }
    // $__conditionalAll as the plugin applies it.
    let all: BTreeSet<String> = ["p".to_string()].into();
    let q = "WHERE $__conditionalAll(a IN (${p:singlequote}), $p) AND $__conditionalAll(f(b, c) > 0, ${q})";
    assert_eq!(
        expand_conditional_all(q, &all).unwrap(),
        "WHERE 1=1 AND f(b, c) > 0"
    );
    assert_eq!(
        expand_conditional_all(q, &BTreeSet::new()).unwrap(),
        "WHERE a IN (${p:singlequote}) AND f(b, c) > 0"
    );
    assert!(expand_conditional_all("$__conditionalAll(a, ${p:singlequote})", &all).is_err());
    assert!(expand_conditional_all("$__conditionalAll(a)", &all).is_err());
    assert_eq!(
        bare_in_filters("WHERE x IN (${p:singlequote}) AND y = 1"),
        vec!["IN (${p:singlequote}) AND y = ".to_string()]
    );
    assert!(bare_in_filters("WHERE $__conditionalAll(x IN (${p:singlequote}), $p)").is_empty());
    assert!(bare_in_filters("WHERE x IN ('a', 'b')").is_empty());
    let r = TimeRange {
        from: 1_790_000_000,
        to: 1_790_086_400,
        interval_s: 60,
    };
    assert_eq!(
        expand_macros("a $__timeFilter(minute) b $__interval_s", &r).unwrap(),
        "a minute >= toDateTime(1790000000) AND minute <= toDateTime(1790086400) b 60"
    );
    assert_eq!(
        expand_macros("$__timeInterval(toDateTime(day))", &r).unwrap(),
        "toStartOfInterval(toDateTime(toDateTime(day)), INTERVAL 60 second)"
    );
    assert_eq!(
        expand_macros("$__dateFilter(day)", &r).unwrap(),
        "day >= toDate('2026-09-21') AND day <= toDate('2026-09-22')"
    );
    assert!(expand_macros("$__timeFilter(a, b)", &r).is_err());
    let vars: BTreeMap<String, Vec<String>> =
        [("p".to_string(), vec!["a".into(), "o'k".into()])].into();
    assert_eq!(
        expand_vars("x IN (${p:singlequote}) AND $p = [[p]]", &vars).unwrap(),
        "x IN ('a','o\\'k') AND a,o'k = a,o'k"
    );
    assert_eq!(
        tables_without_final(
            "SELECT 1 FROM sla_monthly FINAL JOIN `sla_monthly` ON 1 WHERE x IN (SELECT 1 FROM db.sla_monthly)",
            &known
        ),
        vec!["sla_monthly".to_string(), "sla_monthly".to_string()]
    );
}

// ------------------------------------------------------------------ against ClickHouse

/// What the server run shares between the dashboards and the cookbook.
pub struct Loaded {
    pub conn: Connection,
    pub config: ClickHouseConfig,
    pub dir: tempfile::TempDir,
    pub range: TimeRange,
    pub gen: GenConfig,
}

impl Loaded {
    pub fn tables_dir(&self) -> PathBuf {
        DataDir::new(self.dir.path()).tables()
    }
}

/// A query for the chdb check: the expanded SQL, whether an empty answer is allowed, and the
/// row count ClickHouse 18.16 (the test server) returned.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub sql: String,
    pub may_be_empty: bool,
    pub rows: Option<u64>,
}

/// A query's answer: column (name, type) and row count.
pub struct Answer {
    pub columns: Vec<(String, String)>,
    pub rows: u64,
}

/// Runs `sql` on the test database; the error is ClickHouse's message.
pub fn query(conn: &Connection, sql: &str) -> Result<Answer, String> {
    let bytes = conn
        .query_bytes("running a query", sql, "JSONCompact")
        .map_err(|e| e.to_string())?;
    let j: Json = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        )
    })?;
    let columns = j["meta"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_string(),
                m["type"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Ok(Answer {
        columns,
        rows: j["rows"].as_u64().unwrap_or(0),
    })
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos()
}

/// Generates the stream and runs the services into ClickHouse and Parquet.
fn load() -> Loaded {
    let mut config = gigstream_testkit::services::clickhouse();
    config.database = format!("gs_dash_{}_{}", std::process::id(), nanos() % 1_000_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let gen = GenConfig {
        events: 60_000,
        days: 60,
        seed: 4,
        bad_ratio: 0.001,
        ..GenConfig::default()
    };
    let started = Instant::now();
    gigstream_tests::generate(dir.path(), &gen).expect("generate the stream");
    // Into ClickHouse, as the service binaries run with GIGSTREAM_CLICKHOUSE_URL set and no
    // Kafka: the embedded log in, ClickHouse out. Several commits, so every table holds several
    // versions of its rows and only FINAL reads give the right numbers.
    let backends = Backends {
        data_dir: DataDir::new(dir.path()),
        kafka: None,
        clickhouse: Some(config.clone()),
    };
    let run = ServiceRun {
        backends: &backends,
        options: RunOptions {
            commit_every_records: 12_000,
            ..RunOptions::default()
        },
        codec: gigstream_tests::codec(),
        refdata: gigstream_tests::refdata(),
        observer: None,
    };
    let stop = AtomicBool::new(false);
    run_service::<gigstream_billing::Billing>(&run, &stop, &mut |_| {})
        .expect("billing into ClickHouse");
    run_service::<gigstream_sla::Sla>(&run, &stop, &mut |_| {}).expect("sla into ClickHouse");
    run_service::<gigstream_market::Market>(&run, &stop, &mut |_| {})
        .expect("market into ClickHouse");
    // And into Parquet (the embedded default), for the portable cookbook queries.
    gigstream_tests::run(
        dir.path(),
        &gigstream_cli::services::Service::ALL,
        &RunOptions::default(),
    )
    .expect("the services into Parquet");
    println!(
        "generated and loaded {} events into ClickHouse database {} and Parquet in {:.1}s",
        gen.events,
        config.database,
        started.elapsed().as_secs_f64()
    );
    let conn = Connection::new(config.clone(), true).expect("ClickHouse connection");
    // From a month before the first event to two months after the last: every payout date,
    // and every month the data touches, is inside.
    let end = gigstream_core::time::date_start_ms(gen.end) / 1000;
    let from = end - i64::from(gen.days + 31) * 86_400;
    let to = end + 62 * 86_400;
    let range = TimeRange {
        from,
        to,
        interval_s: (to - from) / MAX_DATA_POINTS,
    };
    Loaded {
        conn,
        config,
        dir,
        range,
        gen,
    }
}

/// The values of every template variable of a dashboard.
fn variable_values(
    d: &Dashboard,
    loaded: &Loaded,
    failures: &mut Vec<String>,
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for v in variables(&d.json) {
        let sql = match expand_vars(&v.sql, &BTreeMap::new())
            .and_then(|s| expand_macros(&s, &loaded.range))
        {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{}: variable {}: {e}", d.file, v.name));
                continue;
            }
        };
        match loaded.conn.query_tsv("listing a variable's values", &sql) {
            Ok(tsv) => {
                let vals: Vec<String> = tsv
                    .lines()
                    .map(|l| l.split('\t').next().unwrap_or_default().to_string())
                    .collect();
                if vals.is_empty() {
                    failures.push(format!(
                        "{}: variable {} has no values\n--- SQL:\n{sql}",
                        d.file, v.name
                    ));
                }
                out.insert(v.name, vals);
            }
            Err(e) => failures.push(format!(
                "{}: variable {}: ClickHouse: {e}\n--- SQL:\n{sql}",
                d.file, v.name
            )),
        }
    }
    out
}

/// A run of a query: its label, the variables' values, and the variables at All.
type Variant = (String, BTreeMap<String, Vec<String>>, BTreeSet<String>);

/// Runs every panel of every dashboard; returns the expanded queries for chdb.
fn run_dashboards(loaded: &Loaded, failures: &mut Vec<String>) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut runs = 0usize;
    let mut empty_single = Vec::new();
    for d in load_dashboards() {
        let values = variable_values(&d, loaded, failures);
        let declared: Vec<String> = values.keys().cloned().collect();
        for p in panels(&d.json) {
            if p["type"] == "row" {
                continue;
            }
            let title = p["title"].as_str().unwrap_or("(untitled)").to_string();
            let range = TimeRange {
                interval_s: loaded.range.interval_s.max(min_interval(p)),
                ..loaded.range
            };
            for t in p["targets"].as_array().into_iter().flatten() {
                if t["datasource"]["type"] == "prometheus" {
                    continue; // PromQL, checked by name in check_structure
                }
                let raw = t["rawSql"].as_str().unwrap_or_default();
                let used = vars_used(raw, &declared);
                let every: BTreeSet<String> = declared.iter().cloned().collect();
                // Every variable at All first (each $__conditionalAll is 1=1), then every value
                // of every variable selected one by one (the conditions with all values), then
                // each single value of each variable the query uses (the others at All).
                let mut variants: Vec<Variant> = vec![
                    (
                        "all variables = All".to_string(),
                        values.clone(),
                        every.clone(),
                    ),
                    (
                        "every value selected".to_string(),
                        values.clone(),
                        BTreeSet::new(),
                    ),
                ];
                for v in &used {
                    for val in values.get(v).into_iter().flatten() {
                        let mut vs = values.clone();
                        vs.insert(v.clone(), vec![val.clone()]);
                        let mut at_all = every.clone();
                        at_all.remove(v);
                        variants.push((format!("{v} = {val}"), vs, at_all));
                    }
                }
                for (i, (label, vs, at_all)) in variants.iter().enumerate() {
                    let at = format!("{} / panel {title:?} ({label})", d.file);
                    let sql = match expand_conditional_all(raw, at_all)
                        .and_then(|s| expand_vars(&s, vs))
                        .and_then(|s| expand_macros(&s, &range))
                    {
                        Ok(s) => s,
                        Err(e) => {
                            failures.push(format!("{at}: {e}"));
                            continue;
                        }
                    };
                    runs += 1;
                    match query(&loaded.conn, &sql) {
                        Err(e) => failures.push(format!("{at}: ClickHouse: {e}\n--- SQL:\n{sql}")),
                        Ok(a) => {
                            if a.rows == 0 && i <= 1 {
                                failures.push(format!("{at}: empty result\n--- SQL:\n{sql}"));
                            } else if a.rows == 0 {
                                empty_single.push(at.clone());
                            }
                            if p["type"] == "timeseries" {
                                match a.columns.first() {
                                    Some((n, ty))
                                        if n == "time"
                                            && (ty.starts_with("DateTime")
                                                || ty.starts_with("Date")) => {}
                                    other => failures.push(format!(
                                        "{at}: a time-series query must return a DateTime column named time first, got {other:?}"
                                    )),
                                }
                            }
                            cases.push(Case {
                                name: at,
                                sql,
                                may_be_empty: i > 1,
                                rows: Some(a.rows),
                            });
                        }
                    }
                }
            }
        }
    }
    println!(
        "dashboards: {runs} panel queries run, {} single-value variants empty (allowed)",
        empty_single.len()
    );
    cases
}

/// Writes every table (every row version) as TabSeparatedWithNamesAndTypes into `dir`.
fn export_tables(loaded: &Loaded, dir: &Path) -> Result<usize, String> {
    let mut n = 0;
    for t in schema_tables() {
        if t == "gigstream_task_checkpoints" {
            // Opaque binary state; no query reads it.
            continue;
        }
        let bytes = loaded
            .conn
            .query_bytes(
                "exporting a table",
                &format!("SELECT * FROM `{t}`"),
                "TabSeparatedWithNamesAndTypes",
            )
            .map_err(|e| format!("exporting {t}: {e}"))?;
        std::fs::write(dir.join(format!("{t}.tsv")), bytes).map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}

/// Runs `cases` on current ClickHouse through chdb, when it is installed.
fn run_chdb(loaded: &Loaded, cases: &[Case], failures: &mut Vec<String>) {
    let required = gigstream_testkit::services::required();
    // Probed from a neutral directory: from the package root, `import chdb` would find the
    // directory tests/chdb (a namespace package) instead of the library.
    let have = Command::new("python3")
        .args(["-c", "from chdb import session"])
        .current_dir(std::env::temp_dir())
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        if required {
            failures.push(
                "chdb is required (GIGSTREAM_TEST_SERVICES=require) but python3 cannot import it: pip install chdb".into(),
            );
        } else {
            println!("skipped: chdb not installed (pip install chdb); the queries ran on ClickHouse 18.16 only");
        }
        return;
    }
    let work = loaded.dir.path().join("chdb");
    std::fs::create_dir_all(&work).expect("chdb work dir");
    match export_tables(loaded, &work) {
        Ok(n) => println!("chdb: exported {n} tables"),
        Err(e) => {
            failures.push(format!("cannot export the tables for chdb: {e}"));
            return;
        }
    }
    let list: Vec<Json> = cases
        .iter()
        .map(|c| {
            serde_json::json!({"name": c.name, "sql": c.sql, "may_be_empty": c.may_be_empty, "rows": c.rows})
        })
        .collect();
    let qfile = work.join("queries.json");
    std::fs::write(&qfile, serde_json::to_vec(&list).expect("json")).expect("queries file");
    let tz = loaded
        .conn
        .query_tsv("reading the server timezone", "SELECT timezone()")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "UTC".into());
    let started = Instant::now();
    let out = Command::new("python3")
        .current_dir(&work)
        .arg(root().join("tests/chdb/check_queries.py"))
        .arg("--schema-dir")
        .arg(root().join("schemas/clickhouse"))
        .arg("--data")
        .arg(&work)
        .arg("--queries")
        .arg(&qfile)
        .arg("--tz")
        .arg(&tz)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    println!("chdb: {:.1}s", started.elapsed().as_secs_f64());
    if !out.status.success() {
        failures.push(format!(
            "tests/chdb/check_queries.py failed ({}):\n{stdout}{stderr}",
            out.status
        ));
    }
}

pub(crate) fn dashboards_and_cookbook_run_on_clickhouse_and_chdb() {
    let loaded = load();
    let mut failures = Vec::new();
    let mut cases = run_dashboards(&loaded, &mut failures);
    cases.extend(crate::queries_doc::run_on_server(&loaded, &mut failures));
    run_chdb(&loaded, &cases, &mut failures);
    if failures.is_empty() {
        let admin = Connection::new(loaded.config.clone(), false).expect("admin connection");
        admin
            .execute(
                "dropping the test database",
                &format!("DROP DATABASE IF EXISTS `{}`", loaded.config.database),
            )
            .expect("drop the test database");
    }
    assert!(
        failures.is_empty(),
        "{} failures (database {} kept for inspection; generated seed {}):\n\n{}",
        failures.len(),
        loaded.config.database,
        loaded.gen.seed,
        failures.join("\n\n")
    );
}
