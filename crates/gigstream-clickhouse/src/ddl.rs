//! ClickHouse DDL generated from the [`TableDef`]s, in one place so the migration files, the
//! inserts and the definitions cannot drift apart.
//!
//! Only types and engine features that ClickHouse 18.16 and current releases (24.x–26.x) both
//! have are used: no LowCardinality, DateTime64, Map or `is_deleted`.

use gigstream_core::table::{ColumnDef, ColumnType, TableDef};
use std::fmt::Write;

/// The version column every service table gets: the commit that wrote the row. The
/// `ReplacingMergeTree(_version)` engine keeps, per key, the row with the highest version.
pub const VERSION_COLUMN: &str = "_version";

/// The table holding each service's committed checkpoint (newest version wins).
pub const CHECKPOINTS_TABLE: &str = "gigstream_task_checkpoints";

/// The table of checkpoint chunks (migration 0002): `(service, hash)` → bytes.
pub const CHUNKS_TABLE: &str = "gigstream_checkpoint_chunks";

/// The table recording which migration files were applied.
pub const MIGRATIONS_TABLE: &str = "gigstream_migrations";

/// The ClickHouse type of a (non-nullable) column type.
pub fn base_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String => "String",
        ColumnType::UInt8 => "UInt8",
        ColumnType::UInt32 => "UInt32",
        ColumnType::UInt64 => "UInt64",
        ColumnType::Int64 => "Int64",
        ColumnType::Float64 => "Float64",
        ColumnType::Money => "Decimal(18, 2)",
        ColumnType::Quantity => "Decimal(18, 4)",
        ColumnType::Date => "Date",
        ColumnType::DateTime => "DateTime",
        ColumnType::ArrayUInt32 => "Array(UInt32)",
        ColumnType::ArrayUInt64 => "Array(UInt64)",
    }
}

/// The ClickHouse type of a column, `Nullable(T)` when it is nullable.
///
/// Arrays are never wrapped: ClickHouse has no `Nullable(Array(..))`, so a nullable array
/// column is reported by [`check_table`] instead.
pub fn column_type(c: &ColumnDef) -> String {
    if c.nullable {
        format!("Nullable({})", base_type(c.ty))
    } else {
        base_type(c.ty).to_string()
    }
}

/// Identifiers are quoted with backticks so a column named like a keyword still works.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// A string literal for SQL text.
pub fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// What makes a definition impossible to create on ClickHouse 18.16: a nullable key column
/// (old versions refuse nullable sorting keys), a key naming no column, a nullable array, or a
/// column named like the version column.
pub fn check_table(def: &TableDef) -> Vec<String> {
    let mut problems = Vec::new();
    if def.key.is_empty() {
        problems.push(format!("{}: has no key columns", def.name));
    }
    for k in def.key {
        match def.columns.iter().find(|c| c.name == *k) {
            None => problems.push(format!("{}: key column {k} is not a column", def.name)),
            Some(c) if c.nullable => problems.push(format!(
                "{}: key column {k} is nullable, which ClickHouse 18.16 refuses in ORDER BY",
                def.name
            )),
            Some(_) => {}
        }
    }
    for c in def.columns {
        if c.nullable && matches!(c.ty, ColumnType::ArrayUInt32 | ColumnType::ArrayUInt64) {
            problems.push(format!(
                "{}: column {} is a nullable array, which ClickHouse cannot store",
                def.name, c.name
            ));
        }
        if c.name == VERSION_COLUMN {
            problems.push(format!(
                "{}: column {} collides with the sink's version column",
                def.name, c.name
            ));
        }
    }
    problems
}

/// `CREATE TABLE IF NOT EXISTS` for a service table: its columns, `_version UInt64`, engine
/// `ReplacingMergeTree(_version)` ordered by the key. One column per line so that diffs of the
/// migration files read well.
pub fn create_table(def: &TableDef) -> String {
    let mut s = format!("CREATE TABLE IF NOT EXISTS {}\n(\n", quote_ident(def.name));
    for c in def.columns {
        let _ = writeln!(s, "    {} {},", quote_ident(c.name), column_type(c));
    }
    let _ = writeln!(s, "    {} UInt64", quote_ident(VERSION_COLUMN));
    let key: Vec<String> = def.key.iter().map(|k| quote_ident(k)).collect();
    let _ = write!(
        s,
        ")\nENGINE = ReplacingMergeTree({})\nORDER BY ({});\n",
        quote_ident(VERSION_COLUMN),
        key.join(", ")
    );
    s
}

/// The checkpoint table: one row per task (input partition) of a service per commit; the row
/// of the highest version (replay epoch above next offset) per task wins. An empty checkpoint
/// is a replay marker.
pub fn create_checkpoints() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}\n(\n    `service` String,\n    `topic` String,\n    `partition` UInt32,\n    `epoch` UInt32,\n    `next_offset` UInt64,\n    `version` UInt64,\n    `checkpoint` String,\n    `committed_at` DateTime\n)\nENGINE = ReplacingMergeTree(`version`)\nORDER BY (`service`, `topic`, `partition`);\n",
        quote_ident(CHECKPOINTS_TABLE)
    )
}

/// The migrations bookkeeping table; created by [`crate::apply_migrations`] itself, before any
/// migration file, so it is not part of them.
pub fn create_migrations_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}\n(\n    `version` UInt32,\n    `name` String,\n    `applied_at` DateTime\n)\nENGINE = ReplacingMergeTree\nORDER BY `version`",
        quote_ident(MIGRATIONS_TABLE)
    )
}

/// The whole schema for the given tables (deduplicated by name, in first-seen order) plus the
/// checkpoint table, as the text of a migration file.
pub fn schema_sql(defs: &[&TableDef]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut s = String::from(
        "-- Generated from the TableDefs by gigstream-clickhouse (ddl::schema_sql); do not edit.\n\
         -- Regenerate with GIGSTREAM_BLESS=1 cargo test -p gigstream-clickhouse.\n",
    );
    for def in defs {
        if seen.contains(&def.name) {
            continue;
        }
        seen.push(def.name);
        s.push('\n');
        s.push_str(&create_table(def));
    }
    s.push('\n');
    s.push_str(&create_checkpoints());
    s
}

/// Splits a migration file into statements: `;` at the end of a line ends one, `--` lines are
/// comments. (The generated DDL never has `;` inside a line.)
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("--") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if t.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    let rest = cur.trim();
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::table::{col, col_null};

    static T: TableDef = TableDef {
        name: "things",
        doc: "",
        columns: &[
            col("id", ColumnType::UInt64, ""),
            col_null("amount", ColumnType::Money, ""),
            col("tags", ColumnType::ArrayUInt32, ""),
        ],
        key: &["id"],
    };

    #[test]
    fn create_table_has_version_engine_and_key() {
        let sql = create_table(&T);
        assert_eq!(
            sql,
            "CREATE TABLE IF NOT EXISTS `things`\n(\n    `id` UInt64,\n    `amount` Nullable(Decimal(18, 2)),\n    `tags` Array(UInt32),\n    `_version` UInt64\n)\nENGINE = ReplacingMergeTree(`_version`)\nORDER BY (`id`);\n"
        );
        assert!(check_table(&T).is_empty());
    }

    #[test]
    fn nullable_or_missing_keys_are_reported() {
        static BAD: TableDef = TableDef {
            name: "bad",
            doc: "",
            columns: &[
                col_null("k", ColumnType::String, ""),
                col_null("a", ColumnType::ArrayUInt64, ""),
            ],
            key: &["k", "nope"],
        };
        let p = check_table(&BAD);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("nullable"));
        assert!(p[1].contains("not a column"));
        assert!(p[2].contains("nullable array"));
    }

    #[test]
    fn statements_split_on_line_end_semicolons() {
        let sql = schema_sql(&[&T, &T]);
        let st = statements(&sql);
        assert_eq!(st.len(), 2, "duplicate defs are written once: {st:?}");
        assert!(st[0].starts_with("CREATE TABLE IF NOT EXISTS `things`"));
        assert!(st[1].contains("gigstream_task_checkpoints"));
        assert!(st.iter().all(|s| !s.ends_with(';')));
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(quote_str("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(quote_ident("we`ird"), "`we\\`ird`");
    }
}
