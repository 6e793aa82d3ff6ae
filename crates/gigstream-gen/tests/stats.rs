//! Prints the shape of a generated data set (run with --nocapture; `GEN_EVENTS` sets the size).

use gigstream_core::event::*;
use gigstream_core::{Event, RefData};
use gigstream_gen::{generate, scenario, GenConfig};
use std::collections::BTreeMap;

#[test]
#[ignore = "diagnostic: prints figures"]
fn print_stats() {
    let events: u64 = std::env::var("GEN_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let cfg = GenConfig { events, ..GenConfig::default() };
    let rd = RefData::builtin();
    let t0 = std::time::Instant::now();
    let out = generate(&cfg, &rd);
    println!("generated {} events in {:?}", out.len(), t0.elapsed());
    let sc = scenario(&cfg);
    println!("rework {}, credit {} at {}", gigstream_core::time::fmt_ts(sc.rework_ms), sc.credit_service, gigstream_core::time::fmt_ts(sc.credit_outage_ms));
    let mut types: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for g in &out {
        *types.entry((g.event.topic().name(), g.event.type_name())).or_default() += 1;
    }
    for (k, v) in &types {
        println!("{k:?}: {v}");
    }
}
