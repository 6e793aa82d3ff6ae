//! `verify` against ClickHouse as the store (over the embedded log); runs only when
//! `GIGSTREAM_CLICKHOUSE_URL` is set (start a server with
//! `crates/gigstream-clickhouse/scripts/start-clickhouse.sh DIR PORT`).

use gigstream_avro::{Codec, Registry};
use gigstream_billing::Billing;
use gigstream_cli::gen_cmd::{self, WireEncoding};
use gigstream_cli::services::Service;
use gigstream_cli::verify::{self, LogSource, Mismatch, TableStore};
use gigstream_clickhouse::rowbinary::put_row;
use gigstream_clickhouse::{ClickHouseConfig, ClickHouseSink, Connection};
use gigstream_config::DataDir;
use gigstream_core::table::Value;
use gigstream_core::{Projection, RefData};
use gigstream_gen::GenConfig;
use gigstream_log::EmbeddedSource;
use gigstream_log::Log;
use gigstream_market::Market;
use gigstream_runtime::{run, Pipeline, RunOptions};
use gigstream_sla::Sla;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

fn config() -> ClickHouseConfig {
    let mut c = gigstream_testkit::services::clickhouse();
    c.database = "gigstream_test_verify".to_string();
    c.request_timeout = Duration::from_secs(60);
    let admin = Connection::new(c.clone(), false).unwrap();
    admin
        .execute(
            "dropping the test database",
            &format!("DROP DATABASE IF EXISTS `{}`", c.database),
        )
        .unwrap();
    c
}

fn run_into<P: Projection>(
    dir: &DataDir,
    sink: &mut ClickHouseSink,
    codec: &Codec,
    refdata: &Arc<RefData>,
) {
    let log = Log::open(&dir.log()).unwrap();
    let mut source = EmbeddedSource::new(log, P::NAME, P::topics(), 4).unwrap();
    let pipeline = Pipeline::new(codec.clone(), refdata.clone(), &mut source, sink);
    run::<P>(
        pipeline,
        &RunOptions::default(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
}

pub(crate) fn verify_against_clickhouse_is_clean_then_names_a_newer_changed_row() {
    let cfg = config();
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let refdata = Arc::new(RefData::builtin());
    let codec = Codec::new(Registry::builtin());
    let gen = GenConfig {
        events: 8_000,
        days: 15,
        seed: 11,
        bad_ratio: 0.002,
        ..GenConfig::default()
    };
    let records = gigstream_gen::generate(&gen, &refdata);
    gen_cmd::write_log(
        &dir.log(),
        &codec,
        &gen,
        &records,
        WireEncoding::Confluent,
        4,
    )
    .unwrap();

    let mut sink = ClickHouseSink::connect(cfg.clone()).unwrap();
    run_into::<Billing>(&dir, &mut sink, &codec, &refdata);
    run_into::<Sla>(&dir, &mut sink, &codec, &refdata);
    run_into::<Market>(&dir, &mut sink, &codec, &refdata);

    let log = LogSource::Embedded(dir.log());
    let mut store = TableStore::ClickHouse(Box::new(ClickHouseSink::connect(cfg.clone()).unwrap()));
    let reports =
        verify::verify_services(&codec, &refdata, &log, &mut store, &Service::ALL, 20).unwrap();
    for r in &reports {
        assert!(r.is_clean(), "{}", r.render());
        assert!(r.notes.is_empty(), "{}", r.render());
    }
    let payments_rows = reports[0]
        .tables
        .iter()
        .find(|t| t.table == "billing_payments")
        .unwrap()
        .expected_rows;
    assert!(payments_rows > 0);

    // A row of a higher version with one value changed: FINAL returns it.
    let def = &gigstream_billing::tables::PAYMENTS;
    let rows = gigstream_clickhouse::read::read_current(sink.connection(), def, None).unwrap();
    let (mut row, version) = rows[0].clone();
    let fee = def.column_index("fee_pct").unwrap();
    let Value::F64(old) = row[fee] else {
        panic!("fee_pct is a float: {:?}", row[fee])
    };
    let new = f64::from_bits(old.to_bits() + 1);
    row[fee] = Value::F64(new);
    let mut buf = Vec::new();
    put_row(&mut buf, def, &row, version + 1).unwrap();
    let mut columns: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
    columns.push("_version");
    sink.connection()
        .insert_rowbinary(def.name, &columns, buf)
        .unwrap();

    let out = verify::verify_service::<Billing>(&codec, &refdata, &log, &mut store, 20).unwrap();
    assert_eq!(out.mismatches(), 1, "{}", out.render());
    let t = out.tables.iter().find(|t| t.table == def.name).unwrap();
    match &t.samples[..] {
        [Mismatch::Differs {
            column,
            expected,
            stored,
            ..
        }] => {
            assert_eq!(*column, "fee_pct");
            assert_eq!(expected, &format!("{old:?}"));
            assert_eq!(stored, &format!("{new:?}"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        out.notes.iter().any(|n| n.contains("version")),
        "a row above the checkpoints' version is explained: {}",
        out.render()
    );
}
