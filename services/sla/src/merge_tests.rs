//! `Projection::merge`: per-partition states merged in any order render the tables of one state
//! fed the whole stream.

use crate::Sla;
use gigstream_core::event::Topic;
use gigstream_core::{ColumnTable, Event, Projection, RefData, TableData};
use gigstream_gen::{generate, GenConfig};
use gigstream_testkit::merge::{assert_merge_laws, assert_same_tables, fold};

const PARTITIONS: u32 = 4;

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
    let folded = assert_merge_laws::<Sla>(&rd, &events, PARTITIONS);
    assert_eq!(
        folded.rejected, 0,
        "generated telemetry is valid for the sla projection"
    );
    assert!(
        folded.parts.len() >= 2,
        "the split exercises merging: {} parts",
        folded.parts.len()
    );
    let (whole, states) = (&folded.tables, &folded.parts);

    // A state whose partitions were split further (even by event, within a service) still
    // merges to the same tables: every aggregate is a sum, a min or a max.
    let mut by_event = Sla::new(&rd);
    for half in [0, 1] {
        let (part, _) = fold::<Sla>(&rd, events.iter().skip(half).step_by(2));
        by_event.merge(&part);
    }
    assert_same_tables(&by_event.tables(&rd), whole, "split by event");

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
    assert_same_tables(&rows(&refs), whole, "render of the partition states");
    let reversed: Vec<&Sla> = states.iter().rev().collect();
    assert_same_tables(&rows(&reversed), whole, "render in reverse order");
    // ... and from states that each hold part of every service (merged per service).
    let halves: Vec<Sla> = [0, 1]
        .map(|half| fold::<Sla>(&rd, events.iter().skip(half).step_by(2)).0)
        .into();
    assert_same_tables(
        &rows(&[&halves[0], &halves[1]]),
        whole,
        "render of event halves",
    );
    assert_same_tables(
        &rows(&[&halves[1], &Sla::new(&rd), &halves[0]]),
        whole,
        "render of event halves and an empty state",
    );
    assert_same_tables(&rows(&[]), &Sla::new(&rd).tables(&rd), "render of no state");
}

/// What a commit writes (`changes`, applied in order like a sink), with or without eviction,
/// rebuilds exactly the tables of one fold, over a span longer than the allowed lateness and
/// the longest burn-rate window (so eviction drops minutes, months and reported violations).
#[test]
fn changes_applied_in_order_rebuild_the_tables_with_and_without_eviction() {
    let rd = RefData::builtin();
    let cfg = GenConfig {
        events: 60_000,
        days: 80,
        seed: 5,
        ..GenConfig::default()
    };
    let events: Vec<Event> = generate(&cfg, &rd)
        .into_iter()
        .map(|g| g.event)
        .filter(|e| e.topic() == Topic::Telemetry)
        .collect();
    for (every, evict) in [(1_000, false), (7_919, true), (211, true)] {
        gigstream_testkit::merge::assert_changes_rebuild_tables::<Sla>(
            &rd, &events, PARTITIONS, every, evict,
        );
    }
}
