//! Checking [`gigstream_core::Projection::merge`] the way the runtime relies on it: split a
//! stream by partition as the log does, fold the parts separately, merge, and compare the
//! rendered tables with those of one fold. Used by every projection's tests.

use crate::processor::TaskId;
use gigstream_core::{Event, TableData};
use gigstream_log::partition_for;
use std::collections::BTreeMap;

/// Splits `events` like the log places them: by topic, then murmur2 of the entity key over
/// `partitions`; each part keeps log order.
pub fn split_by_partition(events: &[Event], partitions: u32) -> BTreeMap<TaskId, Vec<&Event>> {
    let mut parts: BTreeMap<TaskId, Vec<&Event>> = BTreeMap::new();
    for e in events {
        let p = partition_for(e.key().as_bytes(), partitions);
        parts.entry((e.topic(), p)).or_default().push(e);
    }
    parts
}

/// The first difference between two renders (table order, row count or a row), if any.
pub fn first_table_difference(got: &[TableData], want: &[TableData]) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("{} tables, expected {}", got.len(), want.len()));
    }
    for (g, w) in got.iter().zip(want) {
        if g.def.name != w.def.name {
            return Some(format!(
                "table {} where {} was expected",
                g.def.name, w.def.name
            ));
        }
        if g.rows.len() != w.rows.len() {
            return Some(format!(
                "{}: {} rows, expected {}",
                w.def.name,
                g.rows.len(),
                w.rows.len()
            ));
        }
        if let Some((i, (gr, wr))) = g
            .rows
            .iter()
            .zip(&w.rows)
            .enumerate()
            .find(|(_, (gr, wr))| gr != wr)
        {
            return Some(format!("{} row {i}: {gr:?}, expected {wr:?}", w.def.name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::first_table_difference;
    use crate::POSITIONS;
    use gigstream_core::table::{TableData, Value};

    fn table(offset: u64) -> TableData {
        let mut t = TableData::new(&POSITIONS);
        t.push(vec![
            Value::from("svc"),
            Value::from("orders"),
            Value::U32(0),
            Value::U64(offset),
            Value::DateTime(0),
        ]);
        t
    }

    #[test]
    fn equal_renders_have_no_difference_and_a_changed_row_is_named() {
        assert_eq!(first_table_difference(&[table(5)], &[table(5)]), None);
        let diff = first_table_difference(&[table(6)], &[table(5)]).expect("differs");
        assert!(diff.starts_with("positions row 0"), "{diff}");
        assert!(first_table_difference(&[], &[table(5)]).is_some());
    }
}
