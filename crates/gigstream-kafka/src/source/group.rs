//! Group membership: the consumer that joins the service's group, and what it tells the
//! group (committed offsets, which are progress hints only).

use super::rebalance::{Ctx, State};
use crate::{Error, KafkaConfig};
use gigstream_core::Topic;
use gigstream_runtime::AssignmentChange;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("auto.offset.reset", "earliest"),
    // Cached high watermarks for `lag` come from the statistics.
    ("statistics.interval.ms", "1000"),
    // A fresh record waits at most this long in an empty fetch; 500 ms (librdkafka's default)
    // cost ~230 ms of freshness at p50 in `gigstream bench-kafka`. An idle consumer then asks
    // 10 times a second.
    ("fetch.wait.max.ms", "100"),
];

/// Offsets are managed by gigstream (stored with the output; Kafka's commit is a hint), and
/// end-of-partition is detected with watermarks, so these are not the user's to change.
const CONSUMER_ENFORCED: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "false"),
];

/// A consumer in `group` subscribed to the topics of `names`: one member of the group.
pub(super) fn join(
    config: &KafkaConfig,
    group: &str,
    names: &HashMap<String, Topic>,
    state: &Arc<Mutex<State>>,
    changes: &mpsc::Sender<AssignmentChange>,
) -> Result<BaseConsumer<Ctx>, Error> {
    let ctx = Ctx {
        names: names.clone(),
        state: state.clone(),
        changes: changes.clone(),
        timeout: config.request_timeout,
    };
    let mut cc = crate::config::client_config(config, CONSUMER_DEFAULTS, CONSUMER_ENFORCED);
    cc.set("group.id", group);
    if !config.properties.contains_key("client.id") {
        cc.set("client.id", format!("gigstream-{group}"));
    }
    let consumer: BaseConsumer<Ctx> =
        cc.create_with_context(ctx)
            .map_err(|source| Error::Client {
                client: "consumer",
                source,
            })?;
    let mut list: Vec<&str> = names.keys().map(String::as_str).collect();
    list.sort_unstable();
    consumer
        .subscribe(&list)
        .map_err(|e| Error::kafka(format!("subscribe to {}", list.join(", ")), e))?;
    Ok(consumer)
}

/// The offsets in `tpl` of the topics of `names` (negative ones, "none", left out).
pub(super) fn offsets_of(
    names: &HashMap<String, Topic>,
    tpl: &TopicPartitionList,
) -> BTreeMap<(Topic, u32), u64> {
    tpl.elements()
        .iter()
        .filter_map(|e| {
            let topic = *names.get(e.topic())?;
            match e.offset() {
                Offset::Offset(n) if n >= 0 => {
                    Some(((topic, u32::try_from(e.partition()).ok()?), n as u64))
                }
                _ => None,
            }
        })
        .collect()
}

/// Commits `positions` of the partitions in `owned` to the group, asynchronously: a progress
/// hint for monitoring (`kafka-consumer-groups --describe`); the positions that count are
/// stored with the output.
pub(super) fn commit_hint(
    consumer: &BaseConsumer<Ctx>,
    config: &KafkaConfig,
    positions: &BTreeMap<(Topic, u32), u64>,
    owned: impl Fn(&(Topic, u32)) -> bool,
) -> Result<(), Error> {
    let mut tpl = TopicPartitionList::new();
    for (k, &off) in positions {
        // Only owned partitions: another member owns the rest and commits them.
        if owned(k) {
            tpl.add_partition_offset(
                &config.topic_name(k.0),
                k.1 as i32,
                Offset::Offset(off as i64),
            )
            .map_err(|e| Error::kafka("commit hint", e))?;
        }
    }
    if tpl.count() > 0 {
        consumer
            .commit(&tpl, CommitMode::Async)
            .map_err(|e| Error::kafka("commit hint", e))?;
    }
    Ok(())
}
