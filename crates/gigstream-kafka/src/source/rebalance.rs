//! Rebalance handling: what the group's assignments and revocations change in the source's
//! state. librdkafka calls these inside `poll`, on the caller's thread (rdkafka's
//! `BaseConsumer`), so they never block an async executor.

use gigstream_core::Topic;
use gigstream_runtime::AssignmentChange;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the rebalance callbacks and the poll loop share.
#[derive(Default)]
pub(super) struct State {
    /// Positions from `Source::seek` (absent partition: earliest); `None` until `seek` is
    /// called, meaning "start at the group's committed offsets, else earliest".
    pub wanted: Option<BTreeMap<(Topic, u32), u64>>,
    /// Next offset of every assigned partition; `None` for "the beginning, not known yet".
    pub positions: BTreeMap<(Topic, u32), Option<u64>>,
    /// High watermarks, from statistics and end checks.
    pub high: HashMap<(Topic, u32), u64>,
    /// A failure inside the rebalance callback, reported by the next `poll`.
    pub failure: Option<String>,
    /// Managed by the runtime (it called `take_assignment_changes`): a newly assigned
    /// partition hands out nothing until the runtime has loaded its checkpoint and sought it.
    pub managed: bool,
    /// Partitions whose records are handed out (managed mode: sought since assigned).
    pub active: HashSet<(Topic, u32)>,
    /// An assignment change happened during the current `poll`: return early.
    pub changed: bool,
    /// The consumer holds an assignment (its last rebalance event was an assign): the end
    /// is only judged then.
    pub settled: bool,
    /// When the last revocation happened (the group is rebalancing since).
    pub revoked_at: Option<Instant>,
    /// The last error librdkafka reported (refused connection, TLS, authentication), for the
    /// message of a timeout.
    pub last_client_error: Option<String>,
}

pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The consumer's context: librdkafka's callbacks into the shared [`State`].
pub(super) struct Ctx {
    pub names: HashMap<String, Topic>,
    pub state: Arc<Mutex<State>>,
    pub changes: mpsc::Sender<AssignmentChange>,
    pub timeout: Duration,
}

impl Ctx {
    fn parts(&self, tpl: &TopicPartitionList) -> Vec<(String, Topic, u32)> {
        tpl.elements()
            .iter()
            .filter_map(|e| {
                let topic = *self.names.get(e.topic())?;
                Some((
                    e.topic().to_string(),
                    topic,
                    u32::try_from(e.partition()).ok()?,
                ))
            })
            .collect()
    }

    /// Starting offsets of newly assigned partitions: the sought positions if `seek` was
    /// called, else the group's committed offsets; `None` is the beginning.
    fn starts(
        &self,
        consumer: &BaseConsumer<Ctx>,
        tpl: &TopicPartitionList,
        parts: &[(String, Topic, u32)],
    ) -> Result<Vec<Option<u64>>, String> {
        let wanted = lock(&self.state).wanted.clone();
        if let Some(w) = wanted {
            return Ok(parts
                .iter()
                .map(|(_, t, p)| w.get(&(*t, *p)).copied())
                .collect());
        }
        let committed = consumer
            .committed_offsets(tpl.clone(), self.timeout)
            .map_err(|e| format!("cannot read the group's committed offsets: {e}"))?;
        Ok(parts
            .iter()
            .map(|(name, _, p)| {
                match committed
                    .find_partition(name, *p as i32)
                    .map(|e| e.offset())
                {
                    Some(Offset::Offset(n)) if n >= 0 => Some(n as u64),
                    _ => None,
                }
            })
            .collect())
    }

    fn on_assign(&self, consumer: &BaseConsumer<Ctx>, tpl: &TopicPartitionList) {
        let parts = self.parts(tpl);
        let list = parts.iter().map(|(_, t, p)| (*t, *p)).collect::<Vec<_>>();
        if lock(&self.state).managed {
            // The runtime loads the checkpoints and seeks; until then nothing is handed out.
            let result = consumer
                .assign(tpl)
                .map_err(|e| format!("cannot take the assignment: {e}"));
            let mut st = lock(&self.state);
            st.changed = true;
            st.settled = true;
            if let Err(e) = result {
                st.failure = Some(e);
            }
            for k in &list {
                st.positions.insert(*k, None);
                st.active.remove(k);
            }
        } else {
            let result = self.starts(consumer, tpl, &parts).and_then(|starts| {
                // librdkafka has already assigned `tpl` (starting at committed offsets);
                // assigning again with explicit offsets replaces that before any record is
                // handed out.
                let mut explicit = TopicPartitionList::new();
                for ((name, _, p), start) in parts.iter().zip(&starts) {
                    let offset = start.map_or(Offset::Beginning, |n| Offset::Offset(n as i64));
                    explicit
                        .add_partition_offset(name, *p as i32, offset)
                        .map_err(|e| format!("bad offset for {name}/{p}: {e}"))?;
                }
                consumer
                    .assign(&explicit)
                    .map_err(|e| format!("cannot assign the start offsets: {e}"))?;
                Ok(starts)
            });
            let mut st = lock(&self.state);
            st.settled = true;
            match result {
                Ok(starts) => {
                    for (k, start) in list.iter().zip(starts) {
                        st.positions.insert(*k, start);
                        st.active.insert(*k);
                    }
                }
                Err(e) => st.failure = Some(e),
            }
        }
        tracing::info!(partitions = ?list, "kafka partitions assigned");
        // Nobody listening is fine: the channel is for runtimes that flush on revoke.
        let _ = self.changes.send(AssignmentChange::Assigned(list));
    }

    fn on_revoke(&self, tpl: &TopicPartitionList) {
        let list: Vec<(Topic, u32)> = self
            .parts(tpl)
            .into_iter()
            .map(|(_, t, p)| (t, p))
            .collect();
        let mut st = lock(&self.state);
        for k in &list {
            st.positions.remove(k);
            st.high.remove(k);
            st.active.remove(k);
        }
        st.changed = true;
        st.settled = false;
        st.revoked_at = Some(Instant::now());
        drop(st);
        tracing::info!(partitions = ?list, "kafka partitions revoked");
        let _ = self.changes.send(AssignmentChange::Revoked(list));
    }
}

impl ClientContext for Ctx {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", %error, "{reason}");
        lock(&self.state).last_client_error = Some(reason.to_string());
    }

    fn stats(&self, stats: Statistics) {
        let mut st = lock(&self.state);
        for (name, t) in &stats.topics {
            let Some(&topic) = self.names.get(name) else {
                continue;
            };
            for (p, part) in &t.partitions {
                if let (Ok(p), Ok(hi)) = (u32::try_from(*p), u64::try_from(part.hi_offset)) {
                    if st.positions.contains_key(&(topic, p)) {
                        st.high.insert((topic, p), hi);
                    }
                }
            }
        }
    }
}

impl ConsumerContext for Ctx {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => self.on_assign(consumer, tpl),
            Rebalance::Revoke(tpl) => self.on_revoke(tpl),
            Rebalance::Error(e) => tracing::warn!(error = %e, "kafka rebalance failed"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => tracing::debug!(partitions = offsets.count(), "kafka offsets committed"),
            Err(e) => tracing::warn!(error = %e, "kafka offset commit (progress hint) failed"),
        }
    }
}
