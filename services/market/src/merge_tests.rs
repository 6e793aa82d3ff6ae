//! `Projection::merge`: per-partition states merged in any order render the tables of one state
//! fed the whole stream.

use crate::Market;
use gigstream_core::{Event, RefData, Topic};
use gigstream_gen::{generate, GenConfig};
use gigstream_testkit::merge::assert_merge_laws;

#[test]
fn partition_states_merged_in_any_order_render_the_single_fold_tables() {
    let rd = RefData::builtin();
    let cfg = GenConfig {
        events: 60_000,
        days: 60,
        seed: 7,
        ..GenConfig::default()
    };
    let events: Vec<Event> = generate(&cfg, &rd)
        .into_iter()
        .map(|g| g.event)
        .filter(|e| e.topic() == Topic::Orders)
        .collect();
    let folded = assert_merge_laws::<Market>(&rd, &events, 4);
    assert_eq!(folded.parts.len(), 4, "every partition is used");
}
