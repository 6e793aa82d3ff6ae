//! Broker tests of [`read_partitions_until`]: exact prefixes, never a record beyond.

use crate::common::{config, fill};
use gigstream_core::Topic;
use gigstream_kafka::{read_partitions_until, read_topic};
use std::collections::BTreeMap;

pub(crate) fn reads_exactly_each_prefix_and_refuses_a_prefix_longer_than_the_partition() {
    let cfg = config("bounded");
    fill(&cfg, Topic::Usage, 3, 600);
    let all = read_topic(&cfg, &cfg.topic_name(Topic::Usage)).expect("read topic");
    let mut sizes: BTreeMap<u32, u64> = BTreeMap::new();
    for r in &all {
        *sizes.entry(r.partition).or_default() += 1;
    }
    assert_eq!(sizes.len(), 3, "97 keys spread over every partition");
    // Partition 0 whole, partition 1 halfway, partition 2 not at all (end 0).
    let ends = [(0u32, sizes[&0]), (1, sizes[&1] / 2), (2, 0)];
    let parts: Vec<(Topic, u32, u64)> = ends.iter().map(|&(p, e)| (Topic::Usage, p, e)).collect();
    let mut got: Vec<(u32, u64, Vec<u8>, i64)> = Vec::new();
    let n = read_partitions_until(&cfg, &parts, &mut |r| {
        assert_eq!(r.topic, Topic::Usage);
        got.push((r.partition, r.offset, r.value.to_vec(), r.timestamp_ms));
    })
    .expect("bounded read");
    assert_eq!(n as usize, got.len());
    got.sort_by_key(|g| (g.0, g.1));
    let want: Vec<(u32, u64, Vec<u8>, i64)> = all
        .iter()
        .filter(|r| ends.iter().any(|&(p, e)| p == r.partition && r.offset < e))
        .map(|r| {
            (
                r.partition,
                r.offset,
                r.value.clone().unwrap_or_default(),
                r.timestamp_ms,
            )
        })
        .collect();
    assert_eq!(got, want);

    let too_far = [(Topic::Usage, 0, sizes[&0] + 1)];
    let err = read_partitions_until(&cfg, &too_far, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("ends at offset"), "{err}");
}
