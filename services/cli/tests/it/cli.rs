//! The `gigstream` binary as a user runs it.

use crate::support::{embedded, text};

pub(crate) fn demo_then_sql_lists_tables_with_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = embedded(dir.path(), &["demo", "--events", "30000", "--days", "40"]);
    assert!(out.status.success(), "demo failed: {}", text(&out.stderr));
    let summary = text(&out.stdout);
    for section in [
        "Take-home by platform",
        "SLA status per service",
        "Top churn reasons",
        "gigstream sql",
    ] {
        assert!(
            summary.contains(section),
            "summary lacks {section}:\n{summary}"
        );
    }

    let out = embedded(dir.path(), &["sql", "SHOW TABLES"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tables = text(&out.stdout);
    for t in [
        "billing_payments",
        "sla_minute",
        "market_funnel_daily",
        "dead_letters",
        "positions",
    ] {
        assert!(tables.contains(t), "SHOW TABLES lacks {t}:\n{tables}");
    }

    let out = embedded(
        dir.path(),
        &[
            "sql",
            "SELECT count(*) AS n FROM billing_payments",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert!(n["n"].as_u64().unwrap() > 0, "{n}");

    let out = embedded(
        dir.path(),
        &[
            "sql",
            "SELECT minute, latency_values FROM sla_minute LIMIT 2",
            "--format",
            "csv",
        ],
    );
    assert!(
        out.status.success(),
        "arrays must render in CSV: {}",
        text(&out.stderr)
    );
}

pub(crate) fn a_bad_query_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = embedded(dir.path(), &["sql", "SELECT 1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("gigstream demo"),
        "{}",
        text(&out.stderr)
    );
    let out = embedded(dir.path(), &["gen", "--events", "2000", "--days", "5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = embedded(dir.path(), &["run", "market"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = embedded(dir.path(), &["sql", "SELECT nope FROM market_funnel_daily"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));
}

pub(crate) fn files_output_writes_one_file_per_topic() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("files");
    for format in ["jsonl", "avro"] {
        let out = embedded(
            dir.path(),
            &[
                "gen",
                "--events",
                "3000",
                "--days",
                "5",
                "--output",
                format,
                "--out-dir",
                out_dir.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        for topic in ["orders", "usage", "telemetry"] {
            let f = out_dir.join(format!("{topic}.{format}"));
            assert!(
                std::fs::metadata(&f).map(|m| m.len() > 0).unwrap_or(false),
                "{} missing",
                f.display()
            );
        }
    }
}
