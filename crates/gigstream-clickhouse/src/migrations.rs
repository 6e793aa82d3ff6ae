//! Versioned schema files under `schemas/clickhouse/`, applied once each and recorded in
//! `gigstream_migrations`.
//!
//! Every statement is `CREATE ... IF NOT EXISTS`, so a migration interrupted half-way (or two
//! services starting at once) is simply applied again. While the project is unreleased,
//! `0001_init.sql` is regenerated from the TableDefs (`GIGSTREAM_BLESS=1`); once a schema is
//! deployed, a change goes into a new file (`0002_....sql`, usually `ALTER TABLE ... ADD
//! COLUMN`) appended to [`MIGRATIONS`].

use crate::client::{ClickHouseError, Connection};
use crate::ddl::{self, quote_ident, quote_str, MIGRATIONS_TABLE};
use crate::rowbinary::put_bytes;
use gigstream_core::table::TableDef;

/// One schema file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    /// File name without `.sql`.
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order; the test `migrations_match_table_defs` checks this list against
/// the directory and the generated DDL.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../../schemas/clickhouse/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_checkpoint_chunks",
        sql: include_str!("../../../schemas/clickhouse/0002_checkpoint_chunks.sql"),
    },
];

/// Every table the three services write, in a fixed order, plus the runtime's dead letters and
/// positions (shared by all services; their keys start with `service`).
pub fn all_table_defs(service_defs: &[&[&'static TableDef]]) -> Vec<&'static TableDef> {
    let mut out: Vec<&'static TableDef> = Vec::new();
    for defs in service_defs {
        for d in *defs {
            if !out.iter().any(|o| o.name == d.name) {
                out.push(d);
            }
        }
    }
    for d in [
        &gigstream_runtime::DEAD_LETTERS,
        &gigstream_runtime::POSITIONS,
    ] {
        if !out.iter().any(|o| o.name == d.name) {
            out.push(d);
        }
    }
    out
}

/// Creates the configured database if missing, then applies every migration not yet recorded
/// in `gigstream_migrations`, in order. Returns the names of those it applied now.
///
/// `admin` must not select the database (it may not exist yet); `db` must.
pub fn apply_migrations(
    admin: &Connection,
    db: &Connection,
) -> Result<Vec<&'static str>, ClickHouseError> {
    let database = &admin.config().database;
    admin.execute(
        "creating the database",
        &format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(database)),
    )?;
    db.execute(
        "creating the migrations table",
        &ddl::create_migrations_table(),
    )?;
    let applied = db.query_tsv(
        "reading applied migrations",
        &format!("SELECT DISTINCT version FROM {MIGRATIONS_TABLE}"),
    )?;
    let applied: Vec<u32> = applied
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let mut done = Vec::new();
    for m in MIGRATIONS {
        if applied.contains(&m.version) {
            continue;
        }
        let stmts = ddl::statements(m.sql);
        if stmts.is_empty() {
            return Err(ClickHouseError::Migration {
                name: m.name.to_string(),
                problem: "has no statements".to_string(),
            });
        }
        for (i, s) in stmts.iter().enumerate() {
            db.execute(
                &format!("applying migration {} statement {}", m.name, i + 1),
                s,
            )?;
        }
        let mut row = Vec::new();
        row.extend_from_slice(&m.version.to_le_bytes());
        put_bytes(&mut row, m.name.as_bytes());
        row.extend_from_slice(&now_secs().to_le_bytes());
        db.insert_rowbinary(MIGRATIONS_TABLE, &["version", "name", "applied_at"], row)?;
        tracing::info!(migration = m.name, database = %database, "applied ClickHouse migration");
        done.push(m.name);
    }
    Ok(done)
}

/// Checks, without any DDL, that every migration has been applied to `db`'s database (for a
/// writer user without DDL rights; an admin applies them with [`apply_migrations`]).
pub fn check_migrations(db: &Connection) -> Result<(), ClickHouseError> {
    let missing = |name: &str| ClickHouseError::NotMigrated {
        database: db.config().database.clone(),
        name: name.to_string(),
    };
    let applied = match db.query_tsv(
        "reading applied migrations",
        &format!("SELECT DISTINCT version FROM {MIGRATIONS_TABLE}"),
    ) {
        Ok(text) => text,
        // No migrations table (or database) yet: nothing was applied.
        Err(ClickHouseError::Server {
            retryable: false, ..
        }) => String::new(),
        Err(e) => return Err(e),
    };
    let applied: Vec<u32> = applied
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    match MIGRATIONS.iter().find(|m| !applied.contains(&m.version)) {
        Some(m) => Err(missing(m.name)),
        None => Ok(()),
    }
}

/// Seconds since the epoch as a ClickHouse `DateTime` (saturating; the clock is only
/// informational here).
pub(crate) fn now_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

/// `SELECT` text quoting a service name, for callers building queries.
pub(crate) fn service_filter(service: &str) -> String {
    format!("service = {}", quote_str(service))
}
