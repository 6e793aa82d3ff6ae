//! The migration files must hold exactly the DDL generated from the current TableDefs (no
//! server needed). `GIGSTREAM_BLESS=1` rewrites `0001_init.sql` from the definitions.

use gigstream_clickhouse::{all_table_defs, ddl, MIGRATIONS};
use gigstream_core::table::TableDef;
use gigstream_core::Projection;
use std::fs;
use std::path::PathBuf;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/clickhouse")
}

fn current_defs() -> Vec<&'static TableDef> {
    all_table_defs(&[
        gigstream_billing::Billing::table_defs(),
        gigstream_sla::Sla::table_defs(),
        gigstream_market::Market::table_defs(),
    ])
}

#[test]
fn migrations_match_table_defs() {
    let want = ddl::schema_sql(&current_defs());
    let dir = schema_dir();
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("schemas/clickhouse exists")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let listed: Vec<String> = MIGRATIONS
        .iter()
        .map(|m| format!("{}.sql", m.name))
        .collect();
    if std::env::var("GIGSTREAM_BLESS").as_deref() == Ok("1") {
        // Only 0001 is generated; later migrations are written by hand.
        fs::write(dir.join("0001_init.sql"), &want).expect("write 0001_init.sql");
        return;
    }
    assert_eq!(files, listed, "files in {} vs MIGRATIONS", dir.display());
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(m.version as usize, i + 1, "{} is numbered in order", m.name);
        assert!(
            m.name.starts_with(&format!("{:04}_", m.version)),
            "{}",
            m.name
        );
    }
    // 0001 is generated from the TableDefs; later files are written by hand (ALTERs, new
    // tables of the runtime's own).
    let have = fs::read_to_string(dir.join(&files[0])).expect("read migration");
    assert!(
        have == want,
        "schemas/clickhouse differs from the DDL generated from the TableDefs; run \
         GIGSTREAM_BLESS=1 cargo test -p gigstream-clickhouse --test schema (then rebuild)\n\
         --- generated ---\n{want}"
    );
    // The compiled-in copies are the files on disk (a stale build would apply old DDL).
    assert_eq!(MIGRATIONS[0].sql, have, "rebuild after blessing");
    for (m, f) in MIGRATIONS.iter().zip(&files).skip(1) {
        let text = fs::read_to_string(dir.join(f)).expect("read migration");
        assert_eq!(m.sql, text, "{f}: rebuild");
        // Every statement can be applied again (an interrupted migration is).
        for stmt in text.split(';').filter(|s| s.contains("CREATE")) {
            assert!(stmt.contains("IF NOT EXISTS"), "{f}: {stmt}");
        }
    }
    assert!(MIGRATIONS[1]
        .sql
        .contains(&format!("`{}`", gigstream_clickhouse::ddl::CHUNKS_TABLE)));
}

#[test]
fn every_table_def_can_be_created_on_clickhouse_18() {
    let problems: Vec<String> = current_defs()
        .iter()
        .flat_map(|d| ddl::check_table(d))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn schema_covers_every_service_table_once() {
    let sql = ddl::schema_sql(&current_defs());
    for d in current_defs() {
        let create = format!("CREATE TABLE IF NOT EXISTS `{}`\n", d.name);
        assert_eq!(sql.matches(&create).count(), 1, "{}", d.name);
    }
    assert!(sql.contains("`gigstream_task_checkpoints`"));
    assert!(current_defs().iter().any(|d| d.name == "dead_letters"));
    assert!(current_defs().iter().any(|d| d.name == "positions"));
}
