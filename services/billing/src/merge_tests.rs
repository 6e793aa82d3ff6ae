//! `Projection::merge`: per-partition states merged in any order render the tables of one state
//! fed the whole stream.

use crate::Billing;
use gigstream_core::{Event, Projection, RefData};
use gigstream_gen::{generate, GenConfig};
use gigstream_testkit::merge::assert_merge_laws;

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
    let folded = assert_merge_laws::<Billing>(&rd, &events, 4);
    assert!(
        folded.parts.len() >= 9,
        "three topics, most partitions used: {}",
        folded.parts.len()
    );
    let mut forward = Billing::new(&rd);
    for s in &folded.parts {
        forward.merge(s);
    }
    assert_eq!(forward.as_of(), folded.whole.as_of());
}
