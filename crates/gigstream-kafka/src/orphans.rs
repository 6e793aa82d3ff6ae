//! Notices partitions that no live member of the group owns (see [`OrphanWatch`]).

use crate::KafkaConfig;
use gigstream_core::Topic;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How often a member checks that the partitions it does not own make progress.
const ORPHAN_CHECK_EVERY: Duration = Duration::from_secs(5);
/// Timeout of the requests of that check (it is skipped when they fail).
const ORPHAN_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Watches the partitions this member does not own. One whose group offset (the owners'
/// progress hints) stays where it is while records wait behind it, for `after`, has no live
/// owner: a coordinator lost track of a dead member without rebalancing (tansu 0.6 does, in
/// ways the generation check does not catch: a member that joined while the dead one was
/// still in the group keeps an empty assignment for good). The member then joins the group
/// again as a new member, which makes it rebalance.
///
/// On a coordinator that rebalances when a member dies, this never fires: the dead member's
/// partitions move within a session timeout, and their new owner commits.
pub(crate) struct OrphanWatch {
    /// Least time a partition stalls before it counts as unowned: a session timeout (a dead
    /// owner's partitions move on after it) and 15 s (a live owner that follows its topics
    /// commits every second while it has records).
    after: Duration,
    last_check: Option<Instant>,
    /// Every partition of the subscribed topics, once known.
    partitions: Option<Vec<(Topic, String, u32)>>,
    /// Partitions not owned here with records behind their group offset: that offset (-1:
    /// none) and since when it has not moved.
    stalled: HashMap<(Topic, u32), (i64, Instant)>,
}

impl OrphanWatch {
    pub(crate) fn new(config: &KafkaConfig) -> OrphanWatch {
        OrphanWatch {
            after: config.property_ms("session.timeout.ms", 45_000) + Duration::from_secs(15),
            last_check: None,
            partitions: None,
            stalled: HashMap::new(),
        }
    }

    /// How long a partition stalls before it counts as unowned.
    pub(crate) fn after(&self) -> Duration {
        self.after
    }

    /// Forgets what was seen (the member joins the group again).
    pub(crate) fn forget(&mut self) {
        self.stalled.clear();
    }

    /// The partitions (of those not in `owned`) stalled for longer than `after`, checked at
    /// most every [`ORPHAN_CHECK_EVERY`]; failed requests skip the check.
    pub(crate) fn check<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        names: &HashMap<String, Topic>,
        owned: &HashSet<(Topic, u32)>,
    ) -> Vec<((Topic, u32), i64, i64, Duration)> {
        if self
            .last_check
            .is_some_and(|t| t.elapsed() < ORPHAN_CHECK_EVERY)
        {
            return Vec::new();
        }
        self.last_check = Some(Instant::now());
        if self.partitions.is_none() {
            let mut all = Vec::new();
            for (name, &topic) in names {
                let Ok(md) = consumer.fetch_metadata(Some(name), ORPHAN_CHECK_TIMEOUT) else {
                    return Vec::new();
                };
                let before = all.len();
                for t in md.topics().iter().filter(|t| t.name() == name) {
                    for p in t.partitions() {
                        if let Ok(p) = u32::try_from(p.id()) {
                            all.push((topic, name.clone(), p));
                        }
                    }
                }
                if all.len() == before {
                    // Not created yet: known at a later check.
                    return Vec::new();
                }
            }
            self.partitions = Some(all);
        }
        let others: Vec<&(Topic, String, u32)> = self
            .partitions
            .iter()
            .flatten()
            .filter(|(t, _, p)| !owned.contains(&(*t, *p)))
            .collect();
        self.stalled
            .retain(|k, _| others.iter().any(|(t, _, p)| (*t, *p) == *k));
        if others.is_empty() {
            return Vec::new();
        }
        let mut tpl = TopicPartitionList::new();
        for (_, name, p) in &others {
            tpl.add_partition(name, *p as i32);
        }
        let Ok(committed) = consumer.committed_offsets(tpl, ORPHAN_CHECK_TIMEOUT) else {
            return Vec::new();
        };
        let now = Instant::now();
        let mut out = Vec::new();
        for (topic, name, p) in others {
            let Ok((low, high)) = consumer.fetch_watermarks(name, *p as i32, ORPHAN_CHECK_TIMEOUT)
            else {
                return Vec::new();
            };
            let group = match committed
                .find_partition(name, *p as i32)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(n)) if n >= 0 => n,
                _ => -1,
            };
            let key = (*topic, *p);
            if high <= group.max(low) {
                self.stalled.remove(&key);
                continue;
            }
            let since = match self.stalled.get(&key) {
                Some(&(seen, since)) if seen == group => since,
                _ => {
                    self.stalled.insert(key, (group, now));
                    now
                }
            };
            let stalled = now.duration_since(since);
            if stalled >= self.after {
                out.push((key, group, high, stalled));
            }
        }
        out
    }
}
