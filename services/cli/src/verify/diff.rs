//! Comparing computed rows with stored rows by key: missing, extra and differing rows, with
//! the column and both values of each difference.

use gigstream_core::table::{TableDef, Value};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt::Write;

/// One difference between the recomputed table and the stored one.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// A row the log gives that the store lacks.
    Missing { key: String },
    /// A stored row the log does not give (or a second stored row with the same key).
    Extra { key: String },
    /// The same key with a different value in `column`.
    Differs {
        key: String,
        column: &'static str,
        expected: String,
        stored: String,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Missing { key } => write!(f, "missing in store: {key}"),
            Mismatch::Extra { key } => write!(f, "extra in store: {key}"),
            Mismatch::Differs {
                key,
                column,
                expected,
                stored,
            } => write!(
                f,
                "differs at {key}: {column} recomputed {expected}, stored {stored}"
            ),
        }
    }
}

/// The comparison of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDiff {
    pub table: &'static str,
    /// Rows recomputed from the log.
    pub expected_rows: usize,
    /// Rows read from the store.
    pub stored_rows: usize,
    pub missing: usize,
    pub extra: usize,
    /// Rows present on both sides with at least one differing value.
    pub differing_rows: usize,
    /// The first differences, in key order (at most the limit given to [`diff_rows`]).
    pub samples: Vec<Mismatch>,
    /// Whether more differences were found than kept in `samples`.
    pub truncated: bool,
}

impl TableDiff {
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.differing_rows == 0
    }

    pub fn mismatches(&self) -> usize {
        self.missing + self.extra + self.differing_rows
    }
}

/// Whether two cells are the same value: floats bit for bit (both sides come from the same
/// deterministic computation, and Parquet and RowBinary carry the IEEE bits unchanged), decimals
/// by value (the store returns them at the column's scale), everything else by equality.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
        (Value::Dec(x), Value::Dec(y)) => x == y,
        _ => a == b,
    }
}

/// A cell as a human reads it: strings quoted, dates as dates, decimals without trailing
/// zeros, floats in their shortest exact form.
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::Str(s) => format!("{s:?}"),
        Value::U8(x) => x.to_string(),
        Value::U32(x) => x.to_string(),
        Value::U64(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::F64(x) => format!("{x:?}"),
        Value::Dec(d) => d.normalize().to_string(),
        Value::Date(days) => chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|e| e.checked_add_signed(chrono::Duration::days(i64::from(*days))))
            .map_or_else(|| format!("day {days}"), |d| d.to_string()),
        Value::DateTime(s) => chrono::DateTime::from_timestamp(*s, 0).map_or_else(
            || format!("second {s}"),
            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
        Value::ArrU32(xs) => format!("{xs:?}"),
        Value::ArrU64(xs) => format!("{xs:?}"),
    }
}

/// Both values of a difference; floats that print alike but differ in their bits (the sign of
/// zero, NaN payloads) also show the bits.
fn show_pair(a: &Value, b: &Value) -> (String, String) {
    let (x, y) = (show(a), show(b));
    match (a, b) {
        (Value::F64(p), Value::F64(q)) if x == y => (
            format!("{x} (bits {:#018x})", p.to_bits()),
            format!("{y} (bits {:#018x})", q.to_bits()),
        ),
        _ => (x, y),
    }
}

/// The key of a row as `column=value, ...`; unambiguous because strings are quoted.
pub fn key_of(def: &TableDef, key_idx: &[usize], row: &[Value]) -> String {
    let mut s = String::new();
    for (n, &i) in key_idx.iter().enumerate() {
        if n > 0 {
            s.push_str(", ");
        }
        let v = row.get(i).map_or_else(|| "<absent>".to_string(), show);
        let _ = write!(s, "{}={v}", def.columns[i].name);
    }
    s
}

/// The positions of the key columns of `def`.
pub fn key_indices(def: &TableDef) -> Result<Vec<usize>, String> {
    def.key
        .iter()
        .map(|k| {
            def.column_index(k)
                .ok_or_else(|| format!("table {}: key column {k} is not a column", def.name))
        })
        .collect()
}

/// Compares `expected` (recomputed) with `stored` rows of `def` by key, keeping the first
/// `max_samples` differences in the order of the recomputed rows (extra rows last).
pub fn diff_rows(
    def: &'static TableDef,
    expected: &[Vec<Value>],
    stored: &[Vec<Value>],
    max_samples: usize,
) -> Result<TableDiff, String> {
    let key_idx = key_indices(def)?;
    let mut d = TableDiff {
        table: def.name,
        expected_rows: expected.len(),
        stored_rows: stored.len(),
        missing: 0,
        extra: 0,
        differing_rows: 0,
        samples: Vec::new(),
        truncated: false,
    };
    let sample = |d: &mut TableDiff, m: Mismatch| {
        if d.samples.len() < max_samples {
            d.samples.push(m);
        } else {
            d.truncated = true;
        }
    };
    let mut by_key: HashMap<String, usize> = HashMap::with_capacity(stored.len());
    let mut extra_keys = Vec::new();
    for (i, row) in stored.iter().enumerate() {
        match by_key.entry(key_of(def, &key_idx, row)) {
            Entry::Occupied(e) => extra_keys.push(e.key().clone()),
            Entry::Vacant(e) => {
                e.insert(i);
            }
        }
    }
    let mut matched = vec![false; stored.len()];
    for row in expected {
        let key = key_of(def, &key_idx, row);
        let Some(&i) = by_key.get(&key) else {
            d.missing += 1;
            sample(&mut d, Mismatch::Missing { key });
            continue;
        };
        matched[i] = true;
        let other = &stored[i];
        let mut differs = false;
        for (c, col) in def.columns.iter().enumerate() {
            let (a, b) = (row.get(c), other.get(c));
            let equal = match (a, b) {
                (Some(a), Some(b)) => same(a, b),
                (None, None) => true,
                _ => false,
            };
            if !equal {
                differs = true;
                let absent = Value::Str("<absent>".to_string());
                let (expected, stored) = show_pair(a.unwrap_or(&absent), b.unwrap_or(&absent));
                sample(
                    &mut d,
                    Mismatch::Differs {
                        key: key.clone(),
                        column: col.name,
                        expected,
                        stored,
                    },
                );
            }
        }
        if differs {
            d.differing_rows += 1;
        }
    }
    for (i, row) in stored.iter().enumerate() {
        if !matched[i] && by_key.get(&key_of(def, &key_idx, row)) == Some(&i) {
            extra_keys.push(key_of(def, &key_idx, row));
        }
    }
    d.extra = extra_keys.len();
    for key in extra_keys {
        sample(&mut d, Mismatch::Extra { key });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::table::{col, ColumnType};
    use gigstream_core::Decimal;
    use std::str::FromStr;

    static T: TableDef = TableDef {
        name: "t",
        doc: "",
        columns: &[
            col("id", ColumnType::String, ""),
            col("day", ColumnType::Date, ""),
            col("amount", ColumnType::Money, ""),
            col("ratio", ColumnType::Float64, ""),
        ],
        key: &["id", "day"],
    };

    fn row(id: &str, day: i32, amount: &str, ratio: f64) -> Vec<Value> {
        vec![
            id.into(),
            Value::Date(day),
            Value::Dec(Decimal::from_str(amount).unwrap()),
            Value::F64(ratio),
        ]
    }

    #[test]
    fn equal_tables_are_clean_whatever_the_order_and_decimal_scale() {
        let a = vec![row("a", 0, "1.5", 0.25), row("b", 1, "2", 0.5)];
        let b = vec![row("b", 1, "2.00", 0.5), row("a", 0, "1.50", 0.25)];
        let d = diff_rows(&T, &a, &b, 10).unwrap();
        assert!(d.is_clean(), "{d:?}");
        assert_eq!((d.expected_rows, d.stored_rows), (2, 2));
    }

    #[test]
    fn reports_missing_extra_and_differing_values() {
        let expected = vec![row("a", 0, "1.5", 0.25), row("b", 1, "2", 0.5)];
        let stored = vec![
            row("a", 0, "1.51", 0.25),
            row("c", 2, "3", 0.5),
            row("c", 2, "3", 0.5),
        ];
        let d = diff_rows(&T, &expected, &stored, 10).unwrap();
        assert_eq!((d.missing, d.extra, d.differing_rows), (1, 2, 1));
        assert_eq!(
            d.samples[0],
            Mismatch::Differs {
                key: "id=\"a\", day=1970-01-01".into(),
                column: "amount",
                expected: "1.5".into(),
                stored: "1.51".into(),
            }
        );
        assert_eq!(
            d.samples[1].to_string(),
            "missing in store: id=\"b\", day=1970-01-02"
        );
        assert!(matches!(&d.samples[2], Mismatch::Extra { key } if key.contains("\"c\"")));
        let limited = diff_rows(&T, &expected, &stored, 1).unwrap();
        assert_eq!(limited.samples.len(), 1);
        assert!(limited.truncated && !d.truncated);
        assert_eq!(limited.mismatches(), 4);
    }

    #[test]
    fn floats_compare_bit_for_bit() {
        let d = diff_rows(&T, &[row("a", 0, "1", 0.0)], &[row("a", 0, "1", -0.0)], 5).unwrap();
        assert_eq!(d.differing_rows, 1, "the sign of zero counts");
        let quiet = f64::from_bits(0x7ff8_0000_0000_0000);
        let payload = f64::from_bits(0x7ff8_0000_0000_0001);
        let d = diff_rows(
            &T,
            &[row("a", 0, "1", quiet)],
            &[row("a", 0, "1", payload)],
            5,
        )
        .unwrap();
        let Mismatch::Differs {
            expected, stored, ..
        } = &d.samples[0]
        else {
            panic!("{d:?}")
        };
        assert_eq!(expected, "NaN (bits 0x7ff8000000000000)");
        assert_eq!(stored, "NaN (bits 0x7ff8000000000001)");
        let nan = f64::NAN;
        assert!(
            diff_rows(&T, &[row("a", 0, "1", nan)], &[row("a", 0, "1", nan)], 5)
                .unwrap()
                .is_clean()
        );
    }
}
