//! `Projection::merge`: per-partition states merged in any order render the tables of one state
//! fed the whole stream.

use crate::Sla;
use gigstream_core::event::Topic;
use gigstream_core::{ColumnTable, Event, Projection, RefData, TableData};
use gigstream_gen::{generate, GenConfig};
use gigstream_runtime::merge_check::{first_table_difference, split_by_partition};

const PARTITIONS: u32 = 4;

fn fold<'a>(rd: &RefData, events: impl IntoIterator<Item = &'a Event>) -> Sla {
    let mut sla = Sla::new(rd);
    for e in events {
        sla.apply(rd, e)
            .expect("generated telemetry is valid for the sla projection");
    }
    sla
}

fn assert_same_tables(got: &[TableData], want: &[TableData], what: &str) {
    if let Some(diff) = first_table_difference(got, want) {
        panic!("{what}: {diff}");
    }
}

#[test]
fn partition_states_merged_in_any_order_render_the_single_fold_tables() {
    let rd = RefData::builtin();
    let cfg = GenConfig {
        events: 60_000,
        days: 30,
        seed: 7,
        ..GenConfig::default()
    };
    let events: Vec<Event> = generate(&cfg, &rd)
        .into_iter()
        .map(|g| g.event)
        .filter(|e| e.topic() == Topic::Telemetry)
        .collect();
    // Split like the log does: by the envelope key (service_id), murmur2, kept in log order.
    let parts = split_by_partition(&events, PARTITIONS);
    let non_empty = parts.len();
    assert!(
        non_empty >= 2,
        "the split exercises merging: {non_empty} parts"
    );

    let whole = fold(&rd, &events).tables(&rd);
    for t in &whole {
        assert!(!t.rows.is_empty(), "{} has rows", t.def.name);
    }
    let states: Vec<Sla> = parts
        .values()
        .map(|p| fold(&rd, p.iter().copied()))
        .collect();

    let mut forward = Sla::new(&rd);
    for s in &states {
        forward.merge(s);
    }
    assert_same_tables(&forward.tables(&rd), &whole, "forward");

    let mut reverse = states[states.len() - 1].clone();
    for s in states.iter().rev().skip(1) {
        reverse.merge(s);
    }
    assert_same_tables(&reverse.tables(&rd), &whole, "reverse");

    // A state whose partitions were split further (even by event, within a service) still
    // merges to the same tables: every aggregate is a sum, a min or a max.
    let mut by_event = Sla::new(&rd);
    for half in [0, 1] {
        let part = fold(&rd, events.iter().skip(half).step_by(2));
        by_event.merge(&part);
    }
    assert_same_tables(&by_event.tables(&rd), &whole, "split by event");

    // What the runtime commits: the tables rendered from the partition states as they are,
    // without merging them (each service borrowed from its one state), ...
    let rows = |states: &[&Sla]| -> Vec<TableData> {
        Sla::render(states, &rd)
            .expect("tables match their definitions")
            .iter()
            .map(ColumnTable::to_rows)
            .collect()
    };
    let refs: Vec<&Sla> = states.iter().collect();
    assert_same_tables(&rows(&refs), &whole, "render of the partition states");
    let reversed: Vec<&Sla> = states.iter().rev().collect();
    assert_same_tables(&rows(&reversed), &whole, "render in reverse order");
    // ... and from states that each hold part of every service (merged per service).
    let halves: Vec<Sla> = [0, 1]
        .map(|half| fold(&rd, events.iter().skip(half).step_by(2)))
        .into();
    assert_same_tables(
        &rows(&[&halves[0], &halves[1]]),
        &whole,
        "render of event halves",
    );
    assert_same_tables(
        &rows(&[&halves[1], &Sla::new(&rd), &halves[0]]),
        &whole,
        "render of event halves and an empty state",
    );
    assert_same_tables(&rows(&[]), &Sla::new(&rd).tables(&rd), "render of no state");
}
