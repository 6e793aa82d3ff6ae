//! `docs/queries.md`, the SQL cookbook: every question is a `### ` heading with one ```sql
//! block. Markers before the block (HTML comments): `<!-- portable -->` (the query runs on the
//! embedded Parquet tables through `gigstream sql` once `FINAL` is dropped, with the same
//! answer) and `<!-- may be empty -->` (an empty answer is correct).
//!
//! `queries_doc_is_well_formed` checks the doc without a server. The queries themselves run in
//! `dashboards::dashboards_and_cookbook_run_on_clickhouse_and_chdb` (one generated stream and
//! one database for both), through [`run_on_server`]: on ClickHouse (an error, or an empty
//! answer where none is allowed, fails), the portable ones also on the Parquet tables of the
//! same events (their answers must match), and all of them on current ClickHouse via chdb.

use crate::dashboards::{query, schema_tables, tables_without_final, Case, Loaded};
use gigstream_cli::sql::{self, Format};

const PORTABLE: &str = "<!-- portable -->";
const MAY_BE_EMPTY: &str = "<!-- may be empty -->";
/// At most this many questions may have an empty answer on the test stream.
const MAX_MAY_BE_EMPTY: usize = 5;
const MIN_QUESTIONS: usize = 20;

#[derive(Debug, Clone)]
pub struct Question {
    pub title: String,
    pub sql: String,
    pub portable: bool,
    pub may_be_empty: bool,
}

fn doc_text() -> String {
    std::fs::read_to_string(crate::dashboards::root().join("docs/queries.md"))
        .expect("docs/queries.md is readable")
}

/// The questions of the cookbook, or every problem found.
pub fn parse(doc: &str) -> Result<Vec<Question>, Vec<String>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    // (title, line, body lines)
    let mut sections: Vec<(String, usize, Vec<&str>)> = Vec::new();
    let mut in_code = false;
    for (n, line) in doc.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code {
            if let Some(h) = line.strip_prefix("### ") {
                sections.push((h.trim().to_string(), n + 1, Vec::new()));
                continue;
            }
            if line.starts_with("## ") || line.starts_with("# ") {
                // A new chapter ends the question before it.
                sections.push((String::new(), n + 1, Vec::new()));
                continue;
            }
        }
        if let Some(s) = sections.last_mut() {
            s.2.push(line);
        }
    }
    for (title, line, body) in sections.into_iter().filter(|s| !s.0.is_empty()) {
        let at = format!("docs/queries.md:{line} ({title})");
        let mut blocks = Vec::new();
        let mut cur: Option<Vec<&str>> = None;
        let mut other_fences = 0;
        let mut explained = false;
        let (mut portable, mut may_be_empty) = (false, false);
        for l in &body {
            let t = l.trim();
            if let Some(block) = cur.as_mut() {
                if t == "```" {
                    blocks.push(block.join("\n"));
                    cur = None;
                } else {
                    block.push(l);
                }
            } else if t == "```sql" {
                cur = Some(Vec::new());
            } else if t.starts_with("```") {
                other_fences += 1;
            } else if t == PORTABLE {
                portable = true;
            } else if t == MAY_BE_EMPTY {
                may_be_empty = true;
            } else if t.starts_with("<!--") {
                errs.push(format!("{at}: unknown marker {t}"));
            } else if !t.is_empty() {
                explained = true;
            }
        }
        if cur.is_some() {
            errs.push(format!("{at}: unterminated ```sql block"));
        }
        if other_fences > 0 {
            errs.push(format!("{at}: a code block that is not ```sql"));
        }
        if !explained {
            errs.push(format!("{at}: no explanation"));
        }
        if blocks.len() != 1 {
            errs.push(format!(
                "{at}: needs exactly one ```sql block, has {}",
                blocks.len()
            ));
            continue;
        }
        let sql = blocks.remove(0).trim().trim_end_matches(';').to_string();
        out.push(Question {
            title,
            sql,
            portable,
            may_be_empty,
        });
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// The query for `gigstream sql`: the same text without the word `FINAL` (and the blanks
/// before it).
pub fn without_final(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(pos) = rest.find("FINAL") {
        let (before, after) = (&rest[..pos], &rest[pos + "FINAL".len()..]);
        let starts_word = before.chars().last().is_none_or(char::is_whitespace);
        let ends_word = after
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if starts_word && ends_word {
            out.push_str(before.trim_end_matches([' ', '\t']));
        } else {
            out.push_str(&rest[..pos + "FINAL".len()]);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

pub(crate) fn queries_doc_is_well_formed() {
    let questions = parse(&doc_text()).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    assert!(
        questions.len() >= MIN_QUESTIONS,
        "docs/queries.md has {} questions, at least {MIN_QUESTIONS} expected",
        questions.len()
    );
    let empty: Vec<&str> = questions
        .iter()
        .filter(|q| q.may_be_empty)
        .map(|q| q.title.as_str())
        .collect();
    assert!(
        empty.len() <= MAX_MAY_BE_EMPTY,
        "too many questions marked may be empty ({empty:?}): keep them few"
    );
    assert!(
        questions.iter().filter(|q| q.portable).count() >= 5,
        "mark the queries that run on the embedded tables too as portable"
    );
    let known = schema_tables();
    let mut errs = Vec::new();
    let mut titles = std::collections::BTreeSet::new();
    for q in &questions {
        if !titles.insert(q.title.as_str()) {
            errs.push(format!("question {:?} appears twice", q.title));
        }
        for t in tables_without_final(&q.sql, &known) {
            errs.push(format!("{:?} reads {t} without FINAL", q.title));
        }
        if !q.sql.to_ascii_uppercase().contains("FINAL") {
            errs.push(format!("{:?} reads no aggregate table", q.title));
        }
        if q.portable && without_final(&q.sql).contains("FINAL") {
            errs.push(format!("{:?}: FINAL not removable", q.title));
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    assert_eq!(
        without_final("SELECT a FROM t FINAL\nWHERE x = (SELECT max(m) FROM u FINAL) GROUP BY a"),
        "SELECT a FROM t\nWHERE x = (SELECT max(m) FROM u) GROUP BY a"
    );
    let bad = parse(
        "# t\n\n### q\n\nwhy\n\n<!-- portabel -->\n```sql\nSELECT 1\n```\n```sql\nSELECT 2\n```\n",
    );
    let e = bad.unwrap_err();
    assert!(e.iter().any(|m| m.contains("unknown marker")), "{e:?}");
    assert!(e.iter().any(|m| m.contains("exactly one")), "{e:?}");
}

// ------------------------------------------------------------------ answers compared

/// A cell, normalized so ClickHouse's TSV and DataFusion's CSV compare: NULL, a number, or
/// text (timestamps as `YYYY-MM-DD hh:mm:ss`).
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Num { v: f64, decimals: usize },
    Text(String),
}

fn cell(s: &str) -> Cell {
    let s = s.trim();
    if s.is_empty() || s == "\\N" || s.eq_ignore_ascii_case("null") {
        return Cell::Null;
    }
    if let Ok(v) = s.parse::<f64>() {
        if v.is_finite() {
            // Digits after the point, or full precision for an exponent form (1e-05).
            let decimals = if s.contains(['e', 'E']) {
                15
            } else {
                s.split_once('.').map_or(0, |(_, d)| d.len())
            };
            return Cell::Num { v, decimals };
        }
    }
    // ClickHouse 18.16 prints the zero time (1970-01-01) as zeros.
    let s = match s {
        "0000-00-00 00:00:00" => "1970-01-01 00:00:00",
        "0000-00-00" => "1970-01-01",
        other => other,
    };
    // 2026-10-01T00:00:00Z, 2026-10-01T00:00:00.000, 2026-10-01 00:00:00
    let b = s.as_bytes();
    if b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b' ') {
        return Cell::Text(format!("{} {}", &s[..10], &s[11..19]));
    }
    Cell::Text(s.to_string())
}

fn same(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::Num { v: x, decimals: dx }, Cell::Num { v: y, decimals: dy }) => {
            // A relative 1e-9 (floats summed in another order), or, when one engine printed
            // fewer (but at least 2) decimals, one unit in its last place (an average of
            // decimals kept at the input's scale on one side and at a higher one on the other).
            let close = (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
            let fewer = *dx.min(dy);
            close || (dx != dy && fewer >= 2 && (x - y).abs() <= 10f64.powi(-(fewer as i32)))
        }
        _ => a == b,
    }
}

fn sort_key(row: &[Cell]) -> String {
    row.iter()
        .map(|c| match c {
            Cell::Null => "~null".to_string(),
            Cell::Num { v, .. } => format!("{:+020.1}", v),
            Cell::Text(t) => t.clone(),
        })
        .collect::<Vec<_>>()
        .join("\u{1}")
}

fn rows_of(lines: Vec<Vec<String>>) -> Vec<Vec<Cell>> {
    let mut rows: Vec<Vec<Cell>> = lines
        .into_iter()
        .map(|l| l.iter().map(|c| cell(c)).collect())
        .collect();
    rows.sort_by_key(|r| sort_key(r));
    rows
}

/// Splits CSV text (RFC 4180 quoting) into rows of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            '\r' => {}
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Differences between ClickHouse's and DataFusion's answers, in words (empty when equal).
fn compare_answers(ch: &[Vec<Cell>], df: &[Vec<Cell>]) -> Option<String> {
    if ch.len() != df.len() {
        return Some(format!(
            "ClickHouse returned {} rows, gigstream sql {}",
            ch.len(),
            df.len()
        ));
    }
    for (a, b) in ch.iter().zip(df) {
        if a.len() != b.len() || a.iter().zip(b).any(|(x, y)| !same(x, y)) {
            return Some(format!(
                "rows differ:\n  ClickHouse:    {a:?}\n  gigstream sql: {b:?}"
            ));
        }
    }
    None
}

/// Runs every cookbook query on the loaded database (and the portable ones on the Parquet
/// tables); returns them for chdb.
pub fn run_on_server(loaded: &Loaded, failures: &mut Vec<String>) -> Vec<Case> {
    let questions = match parse(&doc_text()) {
        Ok(q) => q,
        Err(e) => {
            failures.extend(e);
            return Vec::new();
        }
    };
    let tables = loaded.tables_dir();
    let mut cases = Vec::new();
    let mut compared = 0;
    for q in &questions {
        let at = format!("docs/queries.md: {:?}", q.title);
        let answer = match query(&loaded.conn, &q.sql) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{at}: ClickHouse: {e}\n--- SQL:\n{}", q.sql));
                continue;
            }
        };
        if answer.rows == 0 && !q.may_be_empty {
            failures.push(format!(
                "{at}: empty answer (mark it <!-- may be empty --> only if that is a correct answer)\n--- SQL:\n{}",
                q.sql
            ));
        }
        cases.push(Case {
            name: at.clone(),
            sql: q.sql.clone(),
            may_be_empty: q.may_be_empty,
            rows: Some(answer.rows),
        });
        if !q.portable {
            continue;
        }
        let portable = without_final(&q.sql);
        let df = match sql::run(&tables, &portable, Format::Csv) {
            Ok(csv) => csv,
            Err(e) => {
                failures.push(format!(
                    "{at}: marked portable but gigstream sql fails: {e:#}\n--- SQL:\n{portable}"
                ));
                continue;
            }
        };
        let ch = match loaded.conn.query_tsv("running a cookbook query", &q.sql) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{at}: ClickHouse: {e}"));
                continue;
            }
        };
        let ch_rows = rows_of(
            ch.lines()
                .map(|l| l.split('\t').map(str::to_string).collect())
                .collect(),
        );
        let mut df_lines = parse_csv(&df);
        if !df_lines.is_empty() {
            df_lines.remove(0); // header
        }
        let df_rows = rows_of(df_lines);
        if let Some(diff) = compare_answers(&ch_rows, &df_rows) {
            failures.push(format!(
                "{at}: marked portable but the answers differ: {diff}\n--- SQL:\n{}",
                q.sql
            ));
        }
        compared += 1;
    }
    println!(
        "cookbook: {} queries run on ClickHouse, {compared} portable ones compared with gigstream sql",
        questions.len()
    );
    cases
}

pub(crate) fn answers_compare_across_engines_formats() {
    let ch = rows_of(vec![
        vec![
            "upwork".into(),
            "1234.50".into(),
            "\\N".into(),
            "2026-10-01 00:00:00".into(),
        ],
        vec![
            "codingmart".into(),
            "0.1".into(),
            "5.1234".into(),
            "2026-09-01 00:00:00".into(),
        ],
    ]);
    let csv = "platform,gross,x,t\ncodingmart,0.10000000000000002,5.12345678,2026-09-01T00:00:00Z\nupwork,1234.5,,2026-10-01T00:00:00\n";
    let mut lines = parse_csv(csv);
    lines.remove(0);
    let df = rows_of(lines);
    assert_eq!(compare_answers(&ch, &df), None);
    let off = rows_of(vec![
        vec![
            "upwork".into(),
            "1234.51".into(),
            "\\N".into(),
            "2026-10-01 00:00:00".into(),
        ],
        vec![
            "codingmart".into(),
            "0.1".into(),
            "5.1234".into(),
            "2026-09-01 00:00:00".into(),
        ],
    ]);
    assert!(compare_answers(&off, &df).is_some());
    assert!(compare_answers(&ch[..1], &df).is_some());
    assert_eq!(
        parse_csv("a,\"b,\"\"c\"\"\"\n1,2\n"),
        vec![
            vec!["a".to_string(), "b,\"c\"".to_string()],
            vec!["1".into(), "2".into()]
        ]
    );
}
