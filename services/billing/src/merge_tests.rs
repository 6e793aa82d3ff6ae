//! `Projection::merge`: per-partition states merged in any order render the tables of one state
//! fed the whole stream.

use crate::Billing;
use gigstream_core::{Event, Projection, RefData, TableData};
use gigstream_gen::{generate, GenConfig};
use gigstream_runtime::merge_check::{first_table_difference, split_by_partition};

const PARTITIONS: u32 = 4;

/// Folds `events`, skipping rejected ones like the runtime (which dead-letters them); returns
/// the state and the number of rejections.
fn fold<'a>(rd: &RefData, events: impl IntoIterator<Item = &'a Event>) -> (Billing, usize) {
    let mut state = Billing::new(rd);
    let rejected = events
        .into_iter()
        .filter(|e| state.apply(rd, e).is_err())
        .count();
    (state, rejected)
}

fn assert_same_tables(got: &[TableData], want: &[TableData], what: &str) {
    if let Some(diff) = first_table_difference(got, want) {
        panic!("{what}: {diff}");
    }
}

#[test]
fn partition_states_merged_in_any_order_render_the_single_fold_tables() {
    let rd = RefData::builtin();
    // Orders scale with the span, not the event count: 90 days give ~100 payments, a few of
    // them under cn_business_income (a rare regime), so every table has rows.
    let cfg = GenConfig {
        events: 60_000,
        days: 90,
        seed: 2,
        ..GenConfig::default()
    };
    let events: Vec<Event> = generate(&cfg, &rd).into_iter().map(|g| g.event).collect();
    // Split like the log does: by (topic, murmur2 of the envelope key), kept in log order.
    let parts = split_by_partition(&events, PARTITIONS);
    assert!(
        parts.len() >= 9,
        "three topics, most partitions used: {}",
        parts.len()
    );

    let (whole_state, whole_rejected) = fold(&rd, &events);
    let whole = whole_state.tables(&rd);
    for t in &whole {
        assert!(!t.rows.is_empty(), "{} has rows", t.def.name);
    }
    let mut states = Vec::new();
    let mut rejected = 0;
    for p in parts.values() {
        let (s, r) = fold(&rd, p.iter().copied());
        states.push(s);
        rejected += r;
    }
    // Each key's events meet the same per-key state, so the same events are rejected.
    assert_eq!(rejected, whole_rejected, "rejections");

    let mut forward = Billing::new(&rd);
    for s in &states {
        forward.merge(s);
    }
    assert_eq!(forward.as_of(), whole_state.as_of());
    assert_same_tables(&forward.tables(&rd), &whole, "forward");

    let mut reverse = states[states.len() - 1].clone();
    for s in states.iter().rev().skip(1) {
        reverse.merge(s);
    }
    assert_same_tables(&reverse.tables(&rd), &whole, "reverse");

    // Pairwise tree: (0+1) + (2+3) + ...
    let mut tree: Vec<Billing> = states.clone();
    while tree.len() > 1 {
        let mut next = Vec::new();
        for pair in tree.chunks(2) {
            let mut a = pair[0].clone();
            if let Some(b) = pair.get(1) {
                a.merge(b);
            }
            next.push(a);
        }
        tree = next;
    }
    assert_same_tables(&tree[0].tables(&rd), &whole, "tree");
}
