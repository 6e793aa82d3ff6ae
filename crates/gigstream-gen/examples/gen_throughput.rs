//! Generates a data set and prints how long it took and its shape:
//! `cargo run --release -p gigstream-gen --example gen_throughput -- [events]`.

use gigstream_core::RefData;
use gigstream_gen::{generate, scenario, GenConfig};
use std::collections::BTreeMap;

fn main() {
    let events = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let cfg = GenConfig {
        events,
        ..GenConfig::default()
    };
    let rd = RefData::builtin();
    let t0 = std::time::Instant::now();
    let out = generate(&cfg, &rd);
    let took = t0.elapsed();
    println!(
        "generated {} events in {:.2?} ({:.0} events/s)",
        out.len(),
        took,
        out.len() as f64 / took.as_secs_f64()
    );
    let sc = scenario(&cfg);
    println!(
        "rework {}, credit outage on {} at {}",
        gigstream_core::time::fmt_ts(sc.rework_ms),
        sc.credit_service,
        gigstream_core::time::fmt_ts(sc.credit_outage_ms)
    );
    let mut types: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for g in &out {
        *types
            .entry((g.event.topic().name(), g.event.type_name()))
            .or_default() += 1;
    }
    for ((topic, kind), n) in &types {
        println!("{topic:>10} {kind:<20} {n:>9}");
    }
}
