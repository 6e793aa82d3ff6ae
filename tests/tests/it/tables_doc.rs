//! `docs/tables.md` documents every ClickHouse table and column with its type: checked here
//! against the DDL in `schemas/clickhouse/*.sql` (no server needed).
//!
//! The doc has one `### table_name` heading per table, followed by a markdown table whose
//! header is `| column | type | meaning |` and whose rows are
//! ``| `column` | `Type` | meaning |``. The DDL is read as the migrations apply it: every file in
//! name order, `CREATE TABLE` statements and `ALTER TABLE ... ADD COLUMN`.

use std::collections::BTreeMap;
use std::path::Path;

/// Columns (name, type) in order, by table.
pub type Schema = BTreeMap<String, Vec<(String, String)>>;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Collapses whitespace so `Decimal(18,2)` and `Decimal(18, 2)` compare equal.
fn norm_type(t: &str) -> String {
    t.split_whitespace()
        .collect::<String>()
        .replace(',', ", ")
        .trim()
        .to_string()
}

fn unquote(ident: &str) -> String {
    ident.trim().trim_matches('`').trim_matches('"').to_string()
}

/// Splits `s` at commas outside parentheses.
fn split_top_level(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// A column definition `` `name` Type [DEFAULT ...|CODEC(...)|COMMENT ...] `` as (name, type).
fn column_def(def: &str) -> Result<(String, String), String> {
    let def = def.trim();
    let (name, rest) = if let Some(stripped) = def.strip_prefix('`') {
        let end = stripped
            .find('`')
            .ok_or_else(|| format!("unterminated identifier in column definition {def:?}"))?;
        (stripped[..end].to_string(), &stripped[end + 1..])
    } else {
        let end = def
            .find(char::is_whitespace)
            .ok_or_else(|| format!("column definition without a type: {def:?}"))?;
        (def[..end].to_string(), &def[end..])
    };
    let mut ty = rest.trim();
    for kw in [
        " DEFAULT ",
        " MATERIALIZED ",
        " ALIAS ",
        " CODEC(",
        " COMMENT ",
        " TTL ",
    ] {
        if let Some(i) = ty.find(kw) {
            ty = &ty[..i];
        }
    }
    if ty.is_empty() {
        return Err(format!("column {name} has no type"));
    }
    Ok((name, norm_type(ty)))
}

/// Statements of a migration file: `--` comments dropped, split at `;`.
fn statements(sql: &str) -> Vec<String> {
    let text: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    text.split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Applies one statement to the schema.
fn apply(schema: &mut Schema, stmt: &str) -> Result<(), String> {
    let upper = stmt.to_ascii_uppercase();
    let head: Vec<&str> = upper.split_whitespace().take(6).collect();
    if head.starts_with(&["CREATE", "TABLE"]) {
        let open = stmt
            .find('(')
            .ok_or_else(|| format!("CREATE TABLE without columns: {stmt}"))?;
        let name_part = stmt[..open].split_whitespace().last().unwrap_or_default();
        let name = unquote(name_part.rsplit('.').next().unwrap_or(name_part));
        // The column list ends at the parenthesis matching the first one.
        let mut depth = 0i32;
        let mut close = None;
        for (i, ch) in stmt[open..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.ok_or_else(|| format!("unbalanced parentheses in {stmt}"))?;
        let mut cols = Vec::new();
        for def in split_top_level(&stmt[open + 1..close]) {
            let t = def.trim().to_ascii_uppercase();
            if t.starts_with("INDEX ")
                || t.starts_with("CONSTRAINT ")
                || t.starts_with("PROJECTION ")
            {
                continue;
            }
            cols.push(column_def(&def)?);
        }
        if schema.insert(name.clone(), cols).is_some() {
            // IF NOT EXISTS of an existing table is a no-op for the migrations too, but two
            // definitions of one table in the files is a mistake worth hearing about.
            return Err(format!("table {name} is created twice"));
        }
        Ok(())
    } else if head.starts_with(&["ALTER", "TABLE"]) {
        // ALTER TABLE t ADD COLUMN [IF NOT EXISTS] c Type [AFTER x], ...
        let words: Vec<&str> = stmt.split_whitespace().collect();
        let name = unquote(words[2].rsplit('.').next().unwrap_or(words[2]));
        let cols = schema
            .get_mut(&name)
            .ok_or_else(|| format!("ALTER TABLE of unknown table {name}"))?;
        let body = stmt.splitn(4, char::is_whitespace).nth(3).unwrap_or("");
        for action in split_top_level(body) {
            let a = action.trim();
            let up = a.to_ascii_uppercase();
            let Some(rest) = up.strip_prefix("ADD COLUMN ") else {
                return Err(format!(
                    "unsupported ALTER action in {stmt:?}; teach tests/tests/it/tables_doc.rs"
                ));
            };
            let mut def = &a[a.len() - rest.len()..];
            if def.to_ascii_uppercase().starts_with("IF NOT EXISTS ") {
                def = &def["IF NOT EXISTS ".len()..];
            }
            let (mut def, after) = match def.to_ascii_uppercase().find(" AFTER ") {
                Some(i) => (&def[..i], Some(unquote(&def[i + " AFTER ".len()..]))),
                None => (def, None),
            };
            if def.to_ascii_uppercase().ends_with(" FIRST") {
                def = &def[..def.len() - " FIRST".len()];
            }
            let col = column_def(def)?;
            if cols.iter().any(|(n, _)| *n == col.0) {
                continue;
            }
            match after.and_then(|a| cols.iter().position(|(n, _)| *n == a)) {
                Some(i) => cols.insert(i + 1, col),
                None => cols.push(col),
            }
        }
        Ok(())
    } else {
        Err(format!(
            "unsupported statement in schemas/clickhouse (teach tests/tests/it/tables_doc.rs): {}",
            stmt.lines().next().unwrap_or_default()
        ))
    }
}

/// The schema the migration files in `dir` produce, applied in file-name order.
pub fn ddl_schema(dir: &Path) -> Result<Schema, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut schema = Schema::new();
    for f in files {
        let sql = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        for stmt in statements(&sql) {
            apply(&mut schema, &stmt).map_err(|e| format!("{}: {e}", f.display()))?;
        }
    }
    Ok(schema)
}

/// Cells of a markdown table row, `\|` kept as a literal bar.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// Tables documented in `doc`: `### name` headings with their `| column | type | meaning |`
/// tables. Rows with an empty meaning are reported as errors.
pub fn doc_schema(doc: &str) -> Result<Schema, Vec<String>> {
    let mut schema = Schema::new();
    let mut errors = Vec::new();
    let mut current: Option<String> = None;
    let mut in_table = false;
    for (n, line) in doc.lines().enumerate() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix("### ") {
            let name = h.trim().trim_matches('`').to_string();
            if schema.insert(name.clone(), Vec::new()).is_some() {
                errors.push(format!("line {}: table {name} is documented twice", n + 1));
            }
            current = Some(name);
            in_table = false;
            continue;
        }
        if t.starts_with("## ") || t.starts_with("# ") {
            current = None;
            in_table = false;
            continue;
        }
        let Some(table) = &current else { continue };
        if !t.starts_with('|') {
            in_table = false;
            continue;
        }
        let c = cells(t);
        if c.len() == 3
            && c[0].eq_ignore_ascii_case("column")
            && c[1].eq_ignore_ascii_case("type")
            && c[2].eq_ignore_ascii_case("meaning")
        {
            in_table = true;
            continue;
        }
        if !in_table || c.iter().all(|x| x.chars().all(|ch| ch == '-' || ch == ':')) {
            continue;
        }
        if c.len() != 3 {
            errors.push(format!(
                "line {}: a row of {table} needs 3 cells (column, type, meaning), has {}",
                n + 1,
                c.len()
            ));
            continue;
        }
        let col = c[0].trim_matches('`').to_string();
        let ty = norm_type(c[1].trim_matches('`'));
        if c[2].is_empty() {
            errors.push(format!("line {}: {table}.{col} has no meaning", n + 1));
        }
        schema
            .get_mut(table)
            .expect("the current table was inserted at its heading")
            .push((col, ty));
    }
    if errors.is_empty() {
        Ok(schema)
    } else {
        Err(errors)
    }
}

/// Every difference between the DDL and the doc, in words.
pub fn compare(ddl: &Schema, doc: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for (table, cols) in ddl {
        let Some(dcols) = doc.get(table) else {
            out.push(format!("table {table} is missing from docs/tables.md"));
            continue;
        };
        if dcols.is_empty() {
            out.push(format!(
                "table {table} has a heading but no `| column | type | meaning |` table"
            ));
            continue;
        }
        for (name, ty) in cols {
            match dcols.iter().find(|(n, _)| n == name) {
                None => out.push(format!("column {table}.{name} ({ty}) is not documented")),
                Some((_, dty)) if dty != ty => out.push(format!(
                    "column {table}.{name} is {ty} in the DDL but documented as {dty}"
                )),
                Some(_) => {}
            }
        }
        for (name, _) in dcols {
            if !cols.iter().any(|(n, _)| n == name) {
                out.push(format!(
                    "column {table}.{name} is documented but not in the DDL"
                ));
            }
            if dcols.iter().filter(|(n, _)| n == name).count() > 1 {
                out.push(format!("column {table}.{name} is documented twice"));
            }
        }
        let order: Vec<&String> = cols.iter().map(|(n, _)| n).collect();
        let dorder: Vec<&String> = dcols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| order.contains(n))
            .collect();
        if out.is_empty() && order != dorder {
            out.push(format!(
                "the columns of {table} are documented in another order than the DDL's: {order:?}"
            ));
        }
    }
    for table in doc.keys() {
        if !ddl.contains_key(table) {
            out.push(format!(
                "table {table} is documented but not in schemas/clickhouse"
            ));
        }
    }
    out
}

pub(crate) fn tables_doc_matches_the_ddl() {
    let ddl = ddl_schema(&root().join("schemas/clickhouse")).unwrap();
    assert!(
        ddl.len() >= 28,
        "expected the 28 tables of 0001_init.sql, parsed {}: {:?}",
        ddl.len(),
        ddl.keys()
    );
    let text = std::fs::read_to_string(root().join("docs/tables.md")).unwrap();
    let doc = doc_schema(&text).unwrap_or_else(|e| panic!("docs/tables.md:\n{}", e.join("\n")));
    let diffs = compare(&ddl, &doc);
    assert!(
        diffs.is_empty(),
        "docs/tables.md differs from schemas/clickhouse/*.sql:\n{}",
        diffs.join("\n")
    );
}

pub(crate) fn the_checker_reports_missing_extra_and_retyped_columns() {
    let mut ddl = Schema::new();
    apply(
        &mut ddl,
        "CREATE TABLE IF NOT EXISTS `t`\n(\n    `a` String,\n    `m` Decimal(18, 2),\n    `n` Nullable(UInt32)\n)\nENGINE = ReplacingMergeTree(`_version`)\nORDER BY (`a`)",
    )
    .unwrap();
    apply(
        &mut ddl,
        "ALTER TABLE `t` ADD COLUMN IF NOT EXISTS `b` UInt8 AFTER `a`",
    )
    .unwrap();
    assert_eq!(
        ddl["t"],
        vec![
            ("a".to_string(), "String".to_string()),
            ("b".to_string(), "UInt8".to_string()),
            ("m".to_string(), "Decimal(18, 2)".to_string()),
            ("n".to_string(), "Nullable(UInt32)".to_string()),
        ]
    );
    let doc = doc_schema(
        "# x\n\n### t\n\n| column | type | meaning |\n|---|---|---|\n| `a` | `String` | a \\| b |\n| `m` | `Decimal(18,2)` | money |\n| `n` | `UInt32` | count |\n| `z` | `String` | extra |\n\n### u\n\n| column | type | meaning |\n|---|---|---|\n| `q` | `UInt8` | flag |\n",
    )
    .unwrap();
    let diffs = compare(&ddl, &doc);
    let expect = [
        "column t.b (UInt8) is not documented",
        "column t.n is Nullable(UInt32) in the DDL but documented as UInt32",
        "column t.z is documented but not in the DDL",
        "table u is documented but not in schemas/clickhouse",
    ];
    for e in expect {
        assert!(diffs.iter().any(|d| d == e), "{e:?} not in {diffs:?}");
    }
    assert_eq!(diffs.len(), expect.len(), "{diffs:?}");
    // A missing table and an empty meaning are reported too.
    ddl.insert("v".into(), vec![("x".into(), "String".into())]);
    assert!(compare(&ddl, &doc)
        .iter()
        .any(|d| d == "table v is missing from docs/tables.md"));
    let err =
        doc_schema("### t\n\n| column | type | meaning |\n|---|---|---|\n| `a` | `String` |  |\n")
            .unwrap_err();
    assert_eq!(err, vec!["line 5: t.a has no meaning".to_string()]);
    assert!(apply(&mut ddl, "DROP TABLE t").is_err());
}
