//! What a commit writes: the rows that changed since the previous commit, not the tables.
//!
//! A projection whose tables are partition-local ([`crate::projection::Scope::Partition`])
//! reports its changes itself ([`crate::Projection::changes`]); for the others the runtime
//! renders the merged tables and compares them with what it last wrote ([`Fingerprints`]).
//! Either way a sink receives, per table, the complete rows that are new or different
//! (upserts, replacing the row of their key) and the keys of the rows that are gone.

use crate::columns::{ColumnTable, TableError};
use crate::table::{TableData, TableDef, Value};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// The changed rows of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableChanges {
    /// Rows that are new or whose content changed: each replaces the row of its key.
    pub upserts: ColumnTable,
    /// The keys (the values of the table's key columns, in `def.key` order) of rows that no
    /// longer exist.
    pub deletes: Vec<Vec<Value>>,
}

impl TableChanges {
    /// No change to `def`.
    pub fn none(def: &'static TableDef) -> TableChanges {
        TableChanges {
            upserts: ColumnTable::empty(def),
            deletes: Vec::new(),
        }
    }

    /// Upserts of `rows`, no deletes.
    pub fn upserts(rows: &TableData) -> Result<TableChanges, TableError> {
        Ok(TableChanges {
            upserts: ColumnTable::from_rows(rows)?,
            deletes: Vec::new(),
        })
    }

    pub fn def(&self) -> &'static TableDef {
        self.upserts.def()
    }

    pub fn is_empty(&self) -> bool {
        self.upserts.num_rows() == 0 && self.deletes.is_empty()
    }

    /// Rows written: upserts plus deletes.
    pub fn len(&self) -> usize {
        self.upserts.num_rows() + self.deletes.len()
    }
}

/// The positions of `def`'s key columns among its columns.
pub fn key_positions(def: &TableDef) -> Vec<usize> {
    def.key
        .iter()
        .map(|k| {
            def.columns
                .iter()
                .position(|c| c.name == *k)
                .unwrap_or_else(|| panic!("table {}: key column {k} is not a column", def.name))
        })
        .collect()
}

/// The key of `row` (the values of `def.key`).
pub fn key_of(row: &[Value], positions: &[usize]) -> Vec<Value> {
    positions.iter().map(|&i| row[i].clone()).collect()
}

fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
    // Fixed keys: the same content hashes the same in every process and run.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// What a writer last wrote of each table, as a hash of every row by a hash of its key: enough
/// to tell, for a new render of the whole tables, which rows changed and which keys are gone,
/// without keeping the rows. A 64-bit hash per row and key: a collision (about one in 10^19 per
/// pair) would leave one changed row unwritten.
#[derive(Debug, Default, Clone)]
pub struct Fingerprints {
    /// Per table name: key hash → (row hash, key).
    tables: HashMap<&'static str, HashMap<u64, (u64, Vec<Value>)>>,
}

impl Fingerprints {
    /// The changes from what was recorded to `table` (the whole new content of one table), and
    /// records `table` as written. (Call [`Fingerprints::forget`] if the write then fails.)
    pub fn diff(&mut self, table: &ColumnTable) -> Result<TableChanges, TableError> {
        let def = table.def();
        let rows = table.to_rows();
        let positions = key_positions(def);
        let old = self.tables.remove(def.name).unwrap_or_default();
        let mut new: HashMap<u64, (u64, Vec<Value>)> = HashMap::with_capacity(rows.rows.len());
        let mut upserts = TableData::new(def);
        for row in rows.rows {
            let key = key_of(&row, &positions);
            let k = hash_of(&key);
            let h = hash_of(&row);
            if old.get(&k).is_none_or(|(oh, _)| *oh != h) {
                upserts.push(row);
            }
            new.insert(k, (h, key));
        }
        let mut deletes: Vec<Vec<Value>> = old
            .into_iter()
            .filter(|(k, _)| !new.contains_key(k))
            .map(|(_, (_, key))| key)
            .collect();
        deletes.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        self.tables.insert(def.name, new);
        Ok(TableChanges {
            upserts: ColumnTable::from_rows(&upserts)?,
            deletes,
        })
    }

    /// Forgets everything recorded: the next diff writes every row again (after a failed
    /// commit, whose rows may or may not have been stored).
    pub fn forget(&mut self) {
        self.tables.clear();
    }

    /// Rows recorded, over every table.
    pub fn len(&self) -> usize {
        self.tables.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{col, ColumnType};

    static T: TableDef = TableDef {
        name: "t",
        doc: "",
        columns: &[
            col("k", ColumnType::String, ""),
            col("n", ColumnType::UInt64, ""),
        ],
        key: &["k"],
    };

    fn table(rows: &[(&str, u64)]) -> ColumnTable {
        let mut t = TableData::new(&T);
        for (k, n) in rows {
            t.push(vec![Value::from(*k), Value::U64(*n)]);
        }
        ColumnTable::from_rows(&t).unwrap()
    }

    #[test]
    fn only_changed_rows_and_gone_keys_are_written() {
        let mut f = Fingerprints::default();
        let first = f.diff(&table(&[("a", 1), ("b", 2)])).unwrap();
        assert_eq!(first.upserts.num_rows(), 2);
        assert!(first.deletes.is_empty());
        let second = f.diff(&table(&[("a", 1), ("b", 3), ("c", 4)])).unwrap();
        let rows = second.upserts.to_rows().rows;
        assert_eq!(
            rows,
            vec![
                vec![Value::from("b"), Value::U64(3)],
                vec![Value::from("c"), Value::U64(4)]
            ]
        );
        let third = f.diff(&table(&[("c", 4)])).unwrap();
        assert_eq!(third.upserts.num_rows(), 0);
        let mut gone = third.deletes.clone();
        gone.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(gone, vec![vec![Value::from("a")], vec![Value::from("b")]]);
        assert_eq!(f.len(), 1);
        f.forget();
        assert_eq!(f.diff(&table(&[("c", 4)])).unwrap().upserts.num_rows(), 1);
    }
}
