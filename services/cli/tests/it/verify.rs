//! `gigstream verify` on the embedded log and Parquet store: clean after a run, still clean
//! when the log has grown since, and exact about a tampered stored value (the negative control).

use crate::support::{embedded, text};
use gigstream_avro::{Codec, Registry};
use gigstream_billing::Billing;
use gigstream_cli::gen_cmd::{self, WireEncoding};
use gigstream_cli::services::{run_services, Service};
use gigstream_cli::verify::{self, LogSource, Mismatch, TableStore, VerifyReport};
use gigstream_config::DataDir;
use gigstream_core::table::{TableData, TableDef, Value};
use gigstream_core::{Decimal, Projection, RefData};
use gigstream_gen::GenConfig;
use gigstream_parquet::ParquetStore;
use gigstream_runtime::RunOptions;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn refdata() -> Arc<RefData> {
    Arc::new(RefData::builtin())
}

fn codec() -> Codec {
    Codec::new(Registry::builtin())
}

fn gen_config(seed: u64) -> GenConfig {
    GenConfig {
        events: 12_000,
        days: 20,
        seed,
        bad_ratio: 0.002,
        ..GenConfig::default()
    }
}

fn generate(dir: &DataDir, seed: u64) {
    let cfg = gen_config(seed);
    let records = gigstream_gen::generate(&cfg, &refdata());
    gen_cmd::write_log(
        &dir.log(),
        &codec(),
        &cfg,
        &records,
        WireEncoding::Confluent,
        4,
    )
    .unwrap();
}

fn run_all(dir: &DataDir) {
    let hidden =
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    run_services(
        dir,
        &codec(),
        &refdata(),
        &Service::ALL,
        &RunOptions::default(),
        &AtomicBool::new(false),
        &hidden,
    )
    .unwrap();
}

fn verify_all(dir: &DataDir) -> Vec<VerifyReport> {
    let mut store = TableStore::Parquet(ParquetStore::new(dir.tables()));
    verify::verify_services(
        &codec(),
        &refdata(),
        &LogSource::Embedded(dir.log()),
        &mut store,
        &Service::ALL,
        20,
    )
    .unwrap()
}

/// Every table of `service`'s committed generation, read back, and its checkpoint bytes.
fn stored_tables(
    dir: &DataDir,
    service: &str,
    defs: &[&'static TableDef],
) -> (Vec<TableData>, Vec<u8>) {
    let store = ParquetStore::new(dir.tables());
    let snap = store.snapshot(service).unwrap().unwrap();
    let tables = defs
        .iter()
        .map(|def| TableData {
            def,
            rows: snap.read(def).unwrap(),
        })
        .collect();
    (tables, store.load_checkpoint(service).unwrap().unwrap())
}

pub(crate) fn verify_is_clean_after_a_run_and_names_a_tampered_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    generate(&dir, 7);
    run_all(&dir);

    let reports = verify_all(&dir);
    for r in &reports {
        assert!(r.is_clean(), "{}", r.render());
        assert!(r.records > 0 && !r.tasks.is_empty(), "{}", r.render());
    }
    let rows = |service: &str, table: &str| {
        reports
            .iter()
            .find(|r| r.service == service)
            .and_then(|r| r.tables.iter().find(|t| t.table == table))
            .map(|t| t.expected_rows)
            .unwrap()
    };
    assert!(rows("billing", "billing_payments") > 0);
    let dead: usize = ["billing", "sla", "market"]
        .iter()
        .map(|s| rows(s, "dead_letters"))
        .sum();
    assert!(dead > 0, "the invalid records make dead letters to compare");
    assert_eq!(
        rows("sla", "positions"),
        4,
        "one row per telemetry partition"
    );

    // The log grows after the commit: verify reads only up to the stored positions.
    generate(&dir, 8);
    for r in verify_all(&dir) {
        assert!(
            r.is_clean(),
            "records after the stored positions count: {}",
            r.render()
        );
    }

    // Negative control: one stored value changed and one row removed, checkpoint kept.
    let mut defs: Vec<&'static TableDef> = Billing::table_defs().to_vec();
    defs.push(&gigstream_runtime::DEAD_LETTERS);
    defs.push(&gigstream_runtime::POSITIONS);
    let (mut tables, checkpoint) = stored_tables(&dir, "billing", &defs);
    let payments = tables
        .iter_mut()
        .find(|t| t.def.name == "billing_payments")
        .unwrap();
    let net = payments.def.column_index("net").unwrap();
    let row = &mut payments.rows[0];
    let Value::Dec(old) = row[net].clone() else {
        panic!("net is money: {:?}", row[net])
    };
    let new = old + Decimal::new(1, 2);
    row[net] = Value::Dec(new);
    let tampered_key = format!("settle_date={}", verify::diff::show(&row[0]));
    let monthly = tables
        .iter_mut()
        .find(|t| t.def.name == "billing_monthly")
        .unwrap();
    assert!(!monthly.rows.is_empty());
    monthly.rows.remove(0);
    ParquetStore::new(dir.tables())
        .commit("billing", &tables, &checkpoint)
        .unwrap();

    let reports = verify_all(&dir);
    let billing = reports.iter().find(|r| r.service == "billing").unwrap();
    assert!(!billing.is_clean());
    assert_eq!(billing.mismatches(), 2, "{}", billing.render());
    let p = billing
        .tables
        .iter()
        .find(|t| t.table == "billing_payments")
        .unwrap();
    assert_eq!((p.differing_rows, p.missing, p.extra), (1, 0, 0));
    match &p.samples[..] {
        [Mismatch::Differs {
            key,
            column,
            expected,
            stored,
        }] => {
            assert!(key.starts_with(&tampered_key), "{key}");
            assert_eq!(*column, "net");
            assert_eq!(expected, &old.normalize().to_string());
            assert_eq!(stored, &new.normalize().to_string());
        }
        other => panic!("{other:?}"),
    }
    let m = billing
        .tables
        .iter()
        .find(|t| t.table == "billing_monthly")
        .unwrap();
    assert_eq!((m.differing_rows, m.missing, m.extra), (0, 1, 0));
    assert!(billing.render().contains("billing_payments: DIFFERS"));
    for r in reports.iter().filter(|r| r.service != "billing") {
        assert!(r.is_clean(), "{}", r.render());
    }
}

pub(crate) fn the_command_exits_0_clean_1_on_differences_2_when_nothing_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    let out = embedded(data, &["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("billing has no stored checkpoint"),
        "{}",
        text(&out.stderr)
    );

    let out = embedded(data, &["gen", "--events", "3000", "--days", "5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = embedded(data, &["run", "market"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = embedded(data, &["verify", "market"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = text(&out.stdout);
    assert!(report.contains("market_funnel_daily: "), "{report}");
    assert!(report.contains(", OK"), "{report}");
    assert!(report.contains("match the log"), "{report}");

    // One stored position row of market dropped (checkpoint kept): positions differs.
    let dir = DataDir::new(data);
    let mut defs: Vec<&'static TableDef> = gigstream_market::Market::table_defs().to_vec();
    defs.push(&gigstream_runtime::POSITIONS);
    let (mut tables, checkpoint) = stored_tables(&dir, "market", &defs);
    let pos = tables.last_mut().unwrap();
    let kept = pos.rows.len() - 1;
    pos.rows.truncate(kept);
    let mut dl = TableData::new(&gigstream_runtime::DEAD_LETTERS);
    dl.rows.clear();
    tables.push(dl);
    ParquetStore::new(dir.tables())
        .commit("market", &tables, &checkpoint)
        .unwrap();
    let out = embedded(data, &["verify", "market", "--max-diffs", "1"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = text(&out.stdout);
    assert!(report.contains("positions: DIFFERS"), "{report}");
    assert!(
        report.contains("missing in store: service=\"market\""),
        "{report}"
    );
    assert!(report.contains("differ from the log"), "{report}");
}
