//! Determinism: interleaving of partitions, checkpoint round trips, table shape.

use super::orders::deals;
use super::usage::{probes, subscriptions};
use super::*;
use std::collections::BTreeMap;

/// Every event of the hand-built sequences: orders, usage and telemetry.
fn everything() -> Vec<Event> {
    let mut v = deals();
    v.extend(subscriptions());
    v.extend(probes());
    v
}

/// Splits events into per-key queues (topic and key), each in log order.
fn by_key(events: &[Event]) -> Vec<Vec<Event>> {
    let mut queues: BTreeMap<(Topic, String), Vec<Event>> = BTreeMap::new();
    for e in events {
        queues
            .entry((e.topic(), e.key().to_string()))
            .or_default()
            .push(e.clone());
    }
    queues.into_values().collect()
}

/// One key after another, in reverse key order.
fn concatenated_reversed(events: &[Event]) -> Vec<Event> {
    by_key(events).into_iter().rev().flatten().collect()
}

/// Round robin over the keys: one event of each key in turn.
fn round_robin(events: &[Event]) -> Vec<Event> {
    let mut queues: Vec<std::collections::VecDeque<Event>> =
        by_key(events).into_iter().map(Into::into).collect();
    let mut out = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        for q in &mut queues {
            out.extend(q.pop_front());
        }
    }
    out
}

#[test]
fn tables_do_not_depend_on_how_keys_interleave() {
    let events = everything();
    let a = concatenated_reversed(&events);
    let b = round_robin(&events);
    assert_ne!(
        a.iter().map(Event::event_id).collect::<Vec<_>>(),
        b.iter().map(Event::event_id).collect::<Vec<_>>()
    );
    let original = tables(&run(&events));
    assert_eq!(tables(&run(&a)), original);
    assert_eq!(tables(&run(&b)), original);
    // Every table has rows in this sequence, so the comparison covers all of them.
    for t in &original {
        assert!(!t.rows.is_empty(), "{} is empty", t.def.name);
    }
}

#[test]
fn state_round_trips_through_rmp_serde_mid_stream() {
    let rd = RefData::builtin();
    let events = round_robin(&everything());
    let (first, rest) = events.split_at(events.len() / 2);
    let mut b = run(first);
    let bytes = rmp_serde::to_vec(&b).unwrap();
    let mut restored: Billing = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(tables(&restored), tables(&b));
    for e in rest {
        restored.apply(&rd, e).unwrap();
        b.apply(&rd, e).unwrap();
    }
    let uninterrupted = tables(&run(&events));
    assert_eq!(tables(&restored), uninterrupted);
    assert_eq!(tables(&b), uninterrupted);
    assert_eq!(restored.as_of(), b.as_of());
}

#[test]
fn named_round_trip_keeps_field_names() {
    // The struct-as-map encoding too, in case the runtime checkpoints with field names.
    let b = run(&everything());
    let bytes = rmp_serde::to_vec_named(&b).unwrap();
    let restored: Billing = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(tables(&restored), tables(&b));
}

#[test]
fn projection_metadata() {
    assert_eq!(Billing::NAME, "billing");
    assert_eq!(
        Billing::topics(),
        &[Topic::Orders, Topic::Usage, Topic::Telemetry]
    );
    let t = tables(&Billing::new(&RefData::builtin()));
    let names: Vec<&str> = t.iter().map(|t| t.def.name).collect();
    let defs: Vec<&str> = Billing::table_defs().iter().map(|d| d.name).collect();
    assert_eq!(names, defs);
    assert!(t.iter().all(|t| t.rows.is_empty()));
}
