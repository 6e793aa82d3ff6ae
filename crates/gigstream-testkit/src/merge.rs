//! Checking [`Projection::merge`] the way the runtime relies on it: split a stream by partition
//! as the log does, fold the parts separately, merge in several orders, and compare the
//! rendered tables with those of one fold.

use gigstream_core::partition::partition_for;
use gigstream_core::{Event, Projection, RefData, TableData, Topic};
use std::collections::BTreeMap;

/// Splits `events` like the log places them: by topic, then murmur2 of the entity key over
/// `partitions`; each part keeps log order.
pub fn split_by_partition(
    events: &[Event],
    partitions: u32,
) -> BTreeMap<(Topic, u32), Vec<&Event>> {
    let mut parts: BTreeMap<(Topic, u32), Vec<&Event>> = BTreeMap::new();
    for e in events {
        let p = partition_for(e.key().as_bytes(), partitions);
        parts.entry((e.topic(), p)).or_default().push(e);
    }
    parts
}

/// Folds `events` into a new state, skipping rejected ones like the runtime (which
/// dead-letters them); returns the state and the number of rejections.
pub fn fold<'a, P: Projection>(
    rd: &RefData,
    events: impl IntoIterator<Item = &'a Event>,
) -> (P, usize) {
    let mut state = P::new(rd);
    let rejected = events
        .into_iter()
        .filter(|e| state.apply(rd, e).is_err())
        .count();
    (state, rejected)
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

/// Panics naming `what` and the first difference when the renders differ.
pub fn assert_same_tables(got: &[TableData], want: &[TableData], what: &str) {
    if let Some(diff) = first_table_difference(got, want) {
        panic!("{what}: {diff}");
    }
}

/// What [`assert_merge_laws`] folded, for a projection's own further checks.
pub struct Folded<P> {
    /// One state fed the whole stream.
    pub whole: P,
    /// Its tables.
    pub tables: Vec<TableData>,
    /// One state per non-empty partition, in partition order.
    pub parts: Vec<P>,
    /// Events the whole fold rejected (the partition folds rejected as many).
    pub rejected: usize,
}

/// Splits `events` into `partitions` per topic like the log, folds each part, and asserts that
/// the parts merged forward, in reverse and as a pairwise tree render exactly the tables of one
/// fold over the whole stream, and that the parts rejected the same events (each key's events
/// meet the same per-key state). Every table of the whole fold must have rows, so that the
/// check covers it.
pub fn assert_merge_laws<P: Projection + Clone>(
    rd: &RefData,
    events: &[Event],
    partitions: u32,
) -> Folded<P> {
    let split = split_by_partition(events, partitions);
    let (whole, rejected) = fold::<P>(rd, events);
    let tables = whole.tables(rd);
    for t in &tables {
        assert!(!t.rows.is_empty(), "{} has rows", t.def.name);
    }
    let mut parts = Vec::new();
    let mut part_rejected = 0;
    for p in split.values() {
        let (s, r) = fold::<P>(rd, p.iter().copied());
        parts.push(s);
        part_rejected += r;
    }
    assert_eq!(part_rejected, rejected, "rejections of the partition folds");

    let mut forward = P::new(rd);
    for s in &parts {
        forward.merge(s);
    }
    assert_same_tables(&forward.tables(rd), &tables, "merged forward");

    if let Some((last, rest)) = parts.split_last() {
        let mut reverse = last.clone();
        for s in rest.iter().rev() {
            reverse.merge(s);
        }
        assert_same_tables(&reverse.tables(rd), &tables, "merged in reverse");
    }

    // Pairwise tree: (0+1) + (2+3) + ...
    let mut tree: Vec<P> = parts.clone();
    while tree.len() > 1 {
        tree = tree
            .chunks(2)
            .map(|pair| {
                let mut a = pair[0].clone();
                if let Some(b) = pair.get(1) {
                    a.merge(b);
                }
                a
            })
            .collect();
    }
    if let Some(root) = tree.first() {
        assert_same_tables(&root.tables(rd), &tables, "merged as a tree");
    }
    Folded {
        whole,
        tables,
        parts,
        rejected,
    }
}

/// One stored row: its key, then the whole row.
type KeyedRow = (Vec<gigstream_core::Value>, Vec<gigstream_core::Value>);

/// What a sink holds of each table after applying changes: rows sorted by key.
#[derive(Debug, Default)]
struct Applied {
    tables: BTreeMap<&'static str, Vec<KeyedRow>>,
}

impl Applied {
    fn apply(&mut self, changes: &[gigstream_core::TableChanges]) {
        use gigstream_core::changes::{key_of, key_positions};
        use gigstream_core::table::compare_keys;
        for c in changes {
            let def = c.def();
            let keys = key_positions(def);
            let rows = self.tables.entry(def.name).or_default();
            let find = |rows: &Vec<KeyedRow>, key: &[gigstream_core::Value]| {
                rows.binary_search_by(|(k, _)| compare_keys(k, key))
            };
            for key in &c.deletes {
                if let Ok(i) = find(rows, key) {
                    rows.remove(i);
                }
            }
            for row in c.upserts.to_rows().rows {
                let key = key_of(&row, &keys);
                match find(rows, &key) {
                    Ok(i) => rows[i].1 = row,
                    Err(i) => rows.insert(i, (key, row)),
                }
            }
        }
    }
}

/// For a [`gigstream_core::Scope::Partition`] projection: splits `events` by partition like
/// the log, folds each partition in order, taking its changes every `commit_every` events (a
/// commit) and, with `evict`, evicting what the runtime would (everything older than the
/// partition's newest event time minus the allowed lateness), and applies the changes to a
/// table store the way a sink does. The store must then hold exactly the tables of one
/// unevicted fold of the whole stream. Events the runtime would refuse as late are skipped.
pub fn assert_changes_rebuild_tables<P: Projection>(
    rd: &RefData,
    events: &[Event],
    partitions: u32,
    commit_every: usize,
    evict: bool,
) {
    let lateness = rd.pipeline.allowed_lateness_ms();
    let mut store = Applied::default();
    let mut on_time: Vec<&Event> = Vec::new();
    for part in split_by_partition(events, partitions).values() {
        let mut state = P::new(rd);
        let mut watermark = i64::MIN;
        for (i, e) in part.iter().enumerate() {
            let t = e.occurred_at();
            if watermark != i64::MIN && t < watermark - lateness {
                continue;
            }
            watermark = watermark.max(t);
            on_time.push(e);
            let _ = state.apply(rd, e);
            if (i + 1) % commit_every == 0 {
                store.apply(&state.changes(rd).expect("changes render"));
                if evict {
                    state.evict(rd, watermark - lateness);
                }
            }
        }
        store.apply(&state.changes(rd).expect("changes render"));
        // Nothing changed since: nothing more to write.
        let again = state.changes(rd).expect("changes render");
        assert!(
            again.iter().all(|c| c.is_empty()),
            "a second changes() without events wrote {:?}",
            again
                .iter()
                .map(|c| (c.def().name, c.len()))
                .collect::<Vec<_>>()
        );
    }
    // Each key's events met the same per-key state as in one fold of the on-time events.
    let (whole, _) = fold::<P>(rd, on_time.iter().copied());
    for t in whole.tables(rd) {
        let got: Vec<Vec<gigstream_core::Value>> = store
            .tables
            .get(t.def.name)
            .map(|rows| rows.iter().map(|(_, r)| r.clone()).collect())
            .unwrap_or_default();
        let want = TableData {
            def: t.def,
            rows: t.rows.clone(),
        };
        let mut got_t = TableData::new(t.def);
        got_t.rows = got;
        assert_same_tables(
            std::slice::from_ref(&got_t),
            std::slice::from_ref(&want),
            &format!("changes applied (commit every {commit_every}, evict {evict})"),
        );
    }
}
