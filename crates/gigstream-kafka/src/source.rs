//! Reading gigstream topics from Kafka as one member of a consumer group.

use crate::orphans::OrphanWatch;
use crate::{Error, KafkaConfig};
use gigstream_core::Topic;
use gigstream_runtime::{RecordRef, SourceError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use gigstream_runtime::AssignmentChange;

const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("auto.offset.reset", "earliest"),
    // Cached high watermarks for `lag` come from the statistics.
    ("statistics.interval.ms", "1000"),
    // A broker that holds an empty fetch for the whole wait (tansu does) delays fresh records
    // by up to this much; 500 ms (librdkafka's default) cost ~230 ms of freshness at p50 in
    // `gigstream bench-kafka`. An idle consumer then asks 10 times a second.
    ("fetch.wait.max.ms", "100"),
];

/// Offsets are managed by gigstream (stored with the output; Kafka's commit is a hint), and
/// end-of-partition is detected with watermarks, so these are not the user's to change.
const CONSUMER_ENFORCED: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "false"),
];

/// Records handed over by one `poll` at most, so the runner commits and reports regularly.
const MAX_RECORDS_PER_POLL: usize = 10_000;
/// How long one wait inside `poll` lasts before the loop checks timeouts and the end.
const POLL_STEP: Duration = Duration::from_millis(100);
/// Least time between two end-of-partitions checks (watermark requests) while idle.
const END_CHECK_EVERY: Duration = Duration::from_millis(500);
/// Least time without an assignment before the consumer joins the group again.
const REJOIN_AFTER_MIN: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    /// Positions from `Source::seek` (absent partition: earliest); `None` until `seek` is
    /// called, meaning "start at the group's committed offsets, else earliest".
    wanted: Option<BTreeMap<(Topic, u32), u64>>,
    /// Next offset of every assigned partition; `None` for "the beginning, not known yet".
    positions: BTreeMap<(Topic, u32), Option<u64>>,
    /// High watermarks, from statistics and end checks.
    high: HashMap<(Topic, u32), u64>,
    /// Assignments received so far.
    assignments: u64,
    /// A failure inside the rebalance callback, reported by the next `poll`.
    failure: Option<String>,
    /// Managed by the runtime (it called `take_assignment_changes`): a newly assigned
    /// partition hands out nothing until the runtime has loaded its checkpoint and sought it.
    managed: bool,
    /// Partitions whose records are handed out (managed mode: sought since assigned).
    active: std::collections::HashSet<(Topic, u32)>,
    /// An assignment change happened during the current `poll`: return early.
    changed: bool,
    /// The consumer holds an assignment (its last rebalance event was an assign): the end
    /// is only judged then.
    settled: bool,
    /// When the last revocation happened (the group is rebalancing since).
    revoked_at: Option<Instant>,
    /// The last error librdkafka reported (refused connection, TLS, authentication), for the
    /// message of a timeout.
    last_client_error: Option<String>,
    /// The group generation of the last assignment.
    generation: Option<i32>,
    /// Since when the group is known stale: an assignment came with the generation of the one
    /// before (see `Ctx::on_assign`). The member joins the group again once the group has been
    /// quiet for a while (see `KafkaSource::stale_quiet`); a revocation meanwhile cancels that.
    stale_since: Option<Instant>,
}

struct Ctx {
    names: HashMap<String, Topic>,
    state: Arc<Mutex<State>>,
    changes: mpsc::Sender<AssignmentChange>,
    timeout: Duration,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    state.lock().unwrap_or_else(|p| p.into_inner())
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

    /// A new assignment. One with the generation of the one before marks the group stale:
    /// every real rebalance starts a new generation. tansu 0.6's coordinator also answers a
    /// heartbeat with REBALANCE_IN_PROGRESS when that heartbeat is the request that notices
    /// another member's expired session: it drops the dead member but leaves the group
    /// completed, in the same generation, so the members that rejoin get their old assignments
    /// back (the leader's new one is ignored) and the dead member's partitions stay unowned for
    /// good. A member that leaves the group and joins again as a new one makes it rebalance for
    /// real.
    fn on_assign(&self, consumer: &BaseConsumer<Ctx>, tpl: &TopicPartitionList) {
        let parts = self.parts(tpl);
        let generation = group_generation(consumer);
        {
            let mut st = lock(&self.state);
            if generation.is_some() && generation == st.generation {
                tracing::warn!(generation = ?generation, "kafka group rebalance without a new generation (a coordinator that dropped a dead member without rebalancing)");
                st.stale_since = Some(Instant::now());
            } else {
                st.stale_since = None;
            }
            st.generation = generation;
        }
        if lock(&self.state).managed {
            // The runtime loads the checkpoints and seeks; until then nothing is handed out.
            let result = consumer
                .assign(tpl)
                .map_err(|e| format!("cannot take the assignment: {e}"));
            let mut st = lock(&self.state);
            st.assignments += 1;
            st.changed = true;
            st.settled = true;
            if let Err(e) = result {
                st.failure = Some(e);
            }
            for (_, t, p) in &parts {
                st.positions.insert((*t, *p), None);
                st.active.remove(&(*t, *p));
            }
            drop(st);
            let list = parts.iter().map(|(_, t, p)| (*t, *p)).collect::<Vec<_>>();
            tracing::info!(partitions = ?list, "kafka partitions assigned");
            let _ = self.changes.send(AssignmentChange::Assigned(list));
            return;
        }
        let result = self.starts(consumer, tpl, &parts).and_then(|starts| {
            // librdkafka has already assigned `tpl` (starting at committed offsets); assigning
            // again with explicit offsets replaces that before any record is handed out.
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
        st.assignments += 1;
        st.settled = true;
        match result {
            Ok(starts) => {
                for ((_, t, p), start) in parts.iter().zip(starts) {
                    st.positions.insert((*t, *p), start);
                    st.active.insert((*t, *p));
                }
            }
            Err(e) => st.failure = Some(e),
        }
        drop(st);
        let list = parts.iter().map(|(_, t, p)| (*t, *p)).collect::<Vec<_>>();
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
        // Rebalancing again: the next assignment tells whether the group is still stale.
        st.stale_since = None;
        drop(st);
        tracing::info!(partitions = ?list, "kafka partitions revoked");
        let _ = self.changes.send(AssignmentChange::Revoked(list));
    }
}

/// The generation of the group `consumer` is a member of (librdkafka's group metadata), `None`
/// outside a group. Generations number a group's rebalances: every real rebalance starts a new
/// one.
#[allow(unsafe_code)]
fn group_generation(consumer: &BaseConsumer<Ctx>) -> Option<i32> {
    use rdkafka::bindings as rd;
    // SAFETY: the client handle is alive while `consumer` is borrowed; the metadata returned is
    // a copy owned here (or null), read once and then destroyed.
    unsafe {
        let md = rd::rd_kafka_consumer_group_metadata(consumer.client().native_ptr());
        if md.is_null() {
            return None;
        }
        let generation = rd::rd_kafka_consumer_group_metadata_generation_id(md);
        rd::rd_kafka_consumer_group_metadata_destroy(md);
        Some(generation)
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

/// One member of the consumer group of a service, reading its topics from Kafka.
///
/// Offsets: the authoritative positions are the ones stored with the service's output and
/// given to [`gigstream_runtime::Source::seek`]; on every assignment each partition starts at
/// its sought position (absent: earliest). Until `seek` is called it starts at the group's
/// committed offsets instead (absent: earliest), which is what tools without their own store
/// want. Commits ([`gigstream_runtime::Source::commit_hint`]) are asynchronous progress hints
/// for monitoring (`kafka-consumer-groups --describe` shows them).
///
/// The rebalance callbacks run inside `poll`, on the caller's thread (rdkafka's
/// `BaseConsumer`), so they never block an async executor.
///
/// Managed mode (the runtime, see [`gigstream_runtime::Source::take_assignment_changes`]):
/// newly assigned partitions hand out nothing until the runtime has loaded their checkpoints
/// (state is kept per partition) and sought them; revocations are reported so the runtime
/// commits the revoked partitions' output and releases them. The runtime does that right after
/// the `poll` in which the rebalance happened; correctness does not depend on the timing,
/// because the new owner resumes from the last checkpoint and table versions follow offsets.
///
/// Coordinators that do not really rebalance: an assignment that comes back in the generation
/// of the one before (tansu 0.6, after another member's session expired) leaves the dead
/// member's partitions unowned, so the member leaves the group and joins it again as a new
/// member once the group has been quiet for a few seconds. A member left without any
/// assignment for a quarter of the assign timeout does the same, and so does a member that
/// sees partitions it does not own make no progress for a session timeout and 15 s while
/// records wait in them (see `OrphanWatch`).
pub struct KafkaSource {
    /// One consumer subscribed to all the service's topics: one member of the group per
    /// instance.
    consumer: BaseConsumer<Ctx>,
    /// For a new member's context when the consumer rejoins.
    changes_tx: mpsc::Sender<AssignmentChange>,
    /// When the consumer last rejoined the group as a new member.
    rejoined_at: Option<Instant>,
    /// How long a stale group must stay quiet (no revocation) before this member leaves it and
    /// joins again: tansu 0.6 keeps the leader when a member leaves a rebalancing group, so the
    /// member must not leave while the group might be rebalancing. A late JoinGroup of a dead
    /// member (tansu holds a follower's JoinGroup for 3 s) can start a rebalance after the
    /// stale assignment; the heartbeats (REBALANCE_IN_PROGRESS) report it within two intervals.
    stale_quiet: Duration,
    /// The progress of the partitions other members own (see [`OrphanWatch`]).
    orphans: OrphanWatch,
    config: KafkaConfig,
    group: String,
    names: HashMap<String, Topic>,
    state: Arc<Mutex<State>>,
    changes: Option<mpsc::Receiver<AssignmentChange>>,
    created: Instant,
    last_end_check: Option<Instant>,
    /// The last `poll` returned because every owned partition was at its end.
    at_end: bool,
}

/// A consumer in `group` subscribed to the topics of `names` (a new member of the group).
fn join(
    config: &KafkaConfig,
    group: &str,
    names: &HashMap<String, Topic>,
    state: &Arc<Mutex<State>>,
    tx: &mpsc::Sender<AssignmentChange>,
) -> Result<BaseConsumer<Ctx>, Error> {
    let consumer = consumer(config, group, names, state, tx)?;
    subscribe(&consumer, names)?;
    Ok(consumer)
}

/// A consumer in `group` for the topics of `names`, not subscribed yet (not in the group).
fn consumer(
    config: &KafkaConfig,
    group: &str,
    names: &HashMap<String, Topic>,
    state: &Arc<Mutex<State>>,
    tx: &mpsc::Sender<AssignmentChange>,
) -> Result<BaseConsumer<Ctx>, Error> {
    let ctx = Ctx {
        names: names.clone(),
        state: state.clone(),
        changes: tx.clone(),
        timeout: config.request_timeout,
    };
    let mut cc = config.client_config(CONSUMER_DEFAULTS, CONSUMER_ENFORCED);
    cc.set("group.id", group);
    if !config.properties.contains_key("client.id") {
        cc.set("client.id", format!("gigstream-{group}"));
    }
    cc.create_with_context(ctx).map_err(|source| Error::Client {
        client: "consumer",
        source,
    })
}

/// Subscribes `consumer` to the topics of `names`: it joins its group.
fn subscribe(consumer: &BaseConsumer<Ctx>, names: &HashMap<String, Topic>) -> Result<(), Error> {
    let mut list: Vec<&str> = names.keys().map(String::as_str).collect();
    list.sort_unstable();
    consumer
        .subscribe(&list)
        .map_err(|e| Error::kafka(format!("subscribe to {}", list.join(", ")), e))
}

/// tansu 0.6 holds a follower's JoinGroup this long before answering it.
const TANSU_JOIN_PAUSE: Duration = Duration::from_millis(3_000);

/// See `KafkaSource::stale_quiet`: tansu's JoinGroup pause, two heartbeat intervals and a
/// second to spare.
fn stale_quiet(config: &KafkaConfig) -> Duration {
    let heartbeat = config.property_ms("heartbeat.interval.ms", 3_000);
    TANSU_JOIN_PAUSE + 2 * heartbeat + Duration::from_secs(1)
}

impl KafkaSource {
    /// Joins consumer group `group` (the service name) and subscribes to `topics`.
    pub fn new(config: &KafkaConfig, group: &str, topics: &[Topic]) -> Result<KafkaSource, Error> {
        if group.is_empty() {
            return Err(Error::Setting {
                key: "group".into(),
                reason: "the consumer group (service name) is empty".into(),
            });
        }
        let names: HashMap<String, Topic> =
            topics.iter().map(|t| (config.topic_name(*t), *t)).collect();
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = mpsc::channel();
        if topics.is_empty() {
            return Err(Error::Setting {
                key: "topics".into(),
                reason: "no topic to consume".into(),
            });
        }
        let consumer = join(config, group, &names, &state, &tx)?;
        Ok(KafkaSource {
            consumer,
            changes_tx: tx,
            rejoined_at: None,
            stale_quiet: stale_quiet(config),
            orphans: OrphanWatch::new(config),
            config: config.clone(),
            group: group.to_string(),
            names,
            state,
            changes: Some(rx),
            created: Instant::now(),
            last_end_check: None,
            at_end: false,
        })
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The partitions this instance owns now.
    pub fn assignment(&self) -> Vec<(Topic, u32)> {
        lock(&self.state).positions.keys().copied().collect()
    }

    /// Next offsets of the assigned partitions that have a known position.
    pub fn positions(&self) -> BTreeMap<(Topic, u32), u64> {
        lock(&self.state)
            .positions
            .iter()
            .filter_map(|(k, v)| v.map(|o| (*k, o)))
            .collect()
    }

    /// The assignment changes, in order, as they happen inside `poll` (taken once).
    pub fn assignment_changes(&mut self) -> Option<mpsc::Receiver<AssignmentChange>> {
        self.changes.take()
    }

    /// The group's committed offsets for the assigned partitions (a broker request).
    pub fn committed(&self) -> Result<BTreeMap<(Topic, u32), u64>, Error> {
        let tpl = self
            .consumer
            .committed(self.config.request_timeout)
            .map_err(|e| Error::kafka("read committed offsets", e))?;
        Ok(self.committed_of(&tpl).into_iter().collect())
    }

    fn committed_of(&self, tpl: &TopicPartitionList) -> Vec<((Topic, u32), u64)> {
        tpl.elements()
            .iter()
            .filter_map(|e| {
                let topic = *self.names.get(e.topic())?;
                match e.offset() {
                    Offset::Offset(n) if n >= 0 => {
                        Some(((topic, u32::try_from(e.partition()).ok()?), n as u64))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    fn failure(&self) -> Option<String> {
        lock(&self.state).failure.take()
    }

    /// Whether every assigned partition's position has reached its high watermark (asks the
    /// brokers; only called while idle).
    fn at_end(&mut self) -> bool {
        if self
            .last_end_check
            .is_some_and(|t| t.elapsed() < END_CHECK_EVERY)
        {
            return false;
        }
        self.last_end_check = Some(Instant::now());
        if !lock(&self.state).settled {
            // Between a revocation and the next assignment.
            return false;
        }
        let parts: Vec<((Topic, u32), Option<u64>)> = {
            let st = lock(&self.state);
            // The cached high watermarks (statistics, earlier checks) only grow: a partition
            // behind them is not at its end, and the brokers need not be asked.
            let behind = st
                .positions
                .iter()
                .any(|(k, pos)| matches!((pos, st.high.get(k)), (Some(pos), Some(hi)) if pos < hi));
            if behind {
                return false;
            }
            st.positions.iter().map(|(k, v)| (*k, *v)).collect()
        };
        let mut highs = Vec::with_capacity(parts.len());
        let mut done = true;
        for ((topic, p), pos) in parts {
            let name = self.config.topic_name(topic);
            match self
                .consumer
                .fetch_watermarks(&name, p as i32, self.config.request_timeout)
            {
                Ok((lo, hi)) => {
                    let hi = u64::try_from(hi).unwrap_or(0);
                    let pos = pos.unwrap_or(u64::try_from(lo).unwrap_or(0));
                    if pos < hi {
                        tracing::debug!(topic = %name, partition = p, position = pos, high = hi, "not at the end yet");
                    }
                    done &= pos >= hi;
                    highs.push(((topic, p), hi));
                }
                Err(e) => {
                    tracing::debug!(topic = %name, partition = p, error = %e, "watermark request failed");
                    done = false;
                }
            }
        }
        let mut st = lock(&self.state);
        for (k, hi) in highs {
            if st.positions.contains_key(&k) {
                st.high.insert(k, hi);
            }
        }
        done
    }

    /// Joins the group again as a new member when a partition owned by no one here has not
    /// progressed for long while records wait (see [`OrphanWatch`]); at most once per that
    /// time. Only under the runtime (managed mode), whose members send progress hints: a
    /// member that commits nothing would look dead to the others.
    fn watch_orphans(&mut self) -> Result<(), Error> {
        let owned = {
            let st = lock(&self.state);
            if !st.settled || !st.managed {
                return Ok(());
            }
            st.positions.keys().copied().collect()
        };
        if self
            .rejoined_at
            .is_some_and(|t| t.elapsed() < self.orphans.after())
        {
            return Ok(());
        }
        let stalled = self.orphans.check(&self.consumer, &self.names, &owned);
        if stalled.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = stalled
            .iter()
            .map(|((t, p), group, high, for_)| {
                format!(
                    "{}/{p} (group offset {group}, end {high}, for {}s)",
                    self.config.topic_name(*t),
                    for_.as_secs()
                )
            })
            .collect();
        tracing::warn!(group = %self.group, partitions = %list.join(", "), "partitions owned by no live member make no progress (a coordinator that lost track of a dead member); joining the group again as a new member");
        self.rejoin()
    }

    /// Leaves the group and joins it again as a new member, which makes the group rebalance.
    fn rejoin(&mut self) -> Result<(), Error> {
        self.orphans.forget();
        let fresh = consumer(
            &self.config,
            &self.group,
            &self.names,
            &self.state,
            &self.changes_tx,
        )?;
        // The old member leaves first: dropping it revokes its partitions and waits for the
        // coordinator's answer to its LeaveGroup. Only then does the new one join: tansu 0.6
        // keeps the leader of a rebalance that a new member starts, and waits for it for good
        // if that leader leaves afterwards.
        drop(std::mem::replace(&mut self.consumer, fresh));
        {
            let mut st = lock(&self.state);
            st.generation = None;
            st.stale_since = None;
        }
        subscribe(&self.consumer, &self.names)?;
        self.rejoined_at = Some(Instant::now());
        Ok(())
    }

    fn next(&mut self, f: &mut dyn FnMut(RecordRef<'_>)) -> Result<usize, Error> {
        let started = Instant::now();
        self.at_end = false;
        let stale = lock(&self.state).stale_since;
        if stale.is_some_and(|t| t.elapsed() >= self.stale_quiet) {
            tracing::warn!(group = %self.group, "the consumer group did not really rebalance (a member's partitions may be unowned); joining it again as a new member");
            self.rejoin()?;
        }
        self.watch_orphans()?;
        let mut n = 0usize;
        loop {
            let wait = if n > 0 { Duration::ZERO } else { POLL_STEP };
            match self.consumer.poll(wait) {
                Some(Ok(m)) => {
                    let Some(&topic) = self.names.get(m.topic()) else {
                        continue;
                    };
                    let (Ok(partition), Ok(offset)) =
                        (u32::try_from(m.partition()), u64::try_from(m.offset()))
                    else {
                        continue;
                    };
                    {
                        // One lock per record: check it is handed out, and advance.
                        let mut st = lock(&self.state);
                        if !st.active.contains(&(topic, partition)) {
                            // Assigned but not sought yet (or just revoked): fetched again
                            // from the sought position once the runtime has its checkpoint.
                            continue;
                        }
                        if let Some(pos) = st.positions.get_mut(&(topic, partition)) {
                            *pos = Some(offset + 1);
                        }
                    }
                    f(RecordRef {
                        topic,
                        partition,
                        offset,
                        // Kafka records without a timestamp (very old producers) read as 0.
                        timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
                        key: m.key().unwrap_or_default(),
                        value: m.payload().unwrap_or_default(),
                    });
                    n += 1;
                    if n >= MAX_RECORDS_PER_POLL {
                        break;
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => {
                    return Err(Error::kafka("consume", e))
                }
                Some(Err(e)) => {
                    // librdkafka retries transient failures itself; say so and keep going.
                    tracing::warn!(group = %self.group, error = %e, "kafka consumer error");
                }
                None => {
                    if n > 0 || std::mem::take(&mut lock(&self.state).changed) {
                        break;
                    }
                    if let Some(e) = self.failure() {
                        return Err(Error::Setting {
                            key: format!("assignment of group {}", self.group),
                            reason: e,
                        });
                    }
                    let (unsettled, since) = {
                        let st = lock(&self.state);
                        (!st.settled, st.revoked_at.unwrap_or(self.created))
                    };
                    if unsettled {
                        // A member left without an assignment for long (a coordinator that
                        // lost track of it: seen with tansu 0.6) joins again as a new member,
                        // which makes the group rebalance.
                        let rejoin_after = (self.config.assign_timeout / 4).max(REJOIN_AFTER_MIN);
                        let last = self.rejoined_at.map_or(since, |r| r.max(since));
                        if last.elapsed() >= rejoin_after
                            && since.elapsed() < self.config.assign_timeout
                        {
                            tracing::warn!(group = %self.group, waited = ?since.elapsed(), "no partition assignment yet; joining the group again as a new member");
                            self.rejoin()?;
                            continue;
                        }
                        if since.elapsed() >= self.config.assign_timeout {
                            return Err(Error::Timeout {
                                what: format!("a partition assignment for group {}", self.group),
                                secs: self.config.assign_timeout.as_secs(),
                                brokers: self.config.brokers.clone(),
                                cause: lock(&self.state).last_client_error.clone(),
                            });
                        }
                        // Hand control back now and then while waiting, so the runner can
                        // stop (SIGTERM during a rebalance) and report progress.
                        if started.elapsed() >= self.config.poll_wait {
                            break;
                        }
                        continue;
                    }
                    if self.at_end() {
                        self.at_end = true;
                        break;
                    }
                    if started.elapsed() >= self.config.poll_wait {
                        break;
                    }
                }
            }
        }
        Ok(n)
    }

    fn seek_to(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), Error> {
        if lock(&self.state).managed {
            return self.activate(positions);
        }
        let mut st = lock(&self.state);
        st.wanted = Some(positions.clone());
        if st.positions.is_empty() {
            // Applied when the partitions are assigned.
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (&(topic, p), pos) in st.positions.iter_mut() {
            *pos = positions.get(&(topic, p)).copied();
            let offset = pos.map_or(Offset::Beginning, |n| Offset::Offset(n as i64));
            tpl.add_partition_offset(&self.config.topic_name(topic), p as i32, offset)
                .map_err(|e| Error::kafka("seek", e))?;
        }
        drop(st);
        let done = self
            .consumer
            .seek_partitions(tpl, self.config.request_timeout)
            .map_err(|e| Error::kafka("seek", e))?;
        for e in done.elements() {
            if let Err(err) = e.error() {
                return Err(Error::kafka(
                    format!("seek {}/{}", e.topic(), e.partition()),
                    err,
                ));
            }
        }
        Ok(())
    }
}

impl KafkaSource {
    /// Managed mode: (re)assigns every owned partition at an explicit offset (the runtime's
    /// positions; absent: the beginning) and starts handing out their records. Assigning
    /// replaces the fetch positions before anything else is read, unlike a seek, which needs
    /// the partition's fetcher to be running already.
    fn activate(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), Error> {
        let mut st = lock(&self.state);
        let owned: Vec<(Topic, u32)> = st.positions.keys().copied().collect();
        // Assigning again drops what was fetched ahead: only when a partition is new.
        if owned.iter().all(|k| st.active.contains(k)) {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for k in owned {
            // New partitions start at the runtime's positions; the others go on from where
            // they are (the runtime has everything before it).
            let pos = if st.active.contains(&k) {
                st.positions.get(&k).copied().flatten()
            } else {
                positions.get(&k).copied()
            };
            st.positions.insert(k, pos);
            st.active.insert(k);
            let offset = pos.map_or(Offset::Beginning, |n| Offset::Offset(n as i64));
            tpl.add_partition_offset(&self.config.topic_name(k.0), k.1 as i32, offset)
                .map_err(|e| Error::kafka("assign", e))?;
        }
        drop(st);
        self.consumer
            .assign(&tpl)
            .map_err(|e| Error::kafka("assign the sought offsets", e))
    }
}

impl gigstream_runtime::Source for KafkaSource {
    fn take_assignment_changes(&mut self) -> Vec<AssignmentChange> {
        let mut st = lock(&self.state);
        if !st.managed {
            st.managed = true;
            // Partitions assigned before the runtime took over are handed out only once sought.
            st.active.clear();
        }
        drop(st);
        match &self.changes {
            Some(rx) => rx.try_iter().collect(),
            None => Vec::new(),
        }
    }

    fn exclusive(&self) -> bool {
        false
    }

    fn caught_up(&self) -> bool {
        self.at_end
    }

    fn seek(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError> {
        self.seek_to(positions)
            .map_err(|e| SourceError::Other(e.to_string()))
    }

    fn poll(&mut self, f: &mut dyn FnMut(RecordRef<'_>)) -> Result<usize, SourceError> {
        self.next(f).map_err(|e| SourceError::Other(e.to_string()))
    }

    /// From the high watermarks of the last statistics (every second) or end check; `None`
    /// until every assigned partition has both a position and a watermark.
    fn lag(&self) -> Option<u64> {
        let st = lock(&self.state);
        let mut lag = 0;
        for (k, pos) in &st.positions {
            lag += st.high.get(k)?.saturating_sub((*pos)?);
        }
        Some(lag)
    }

    /// Per assigned partition with a known position and high watermark (see `lag`).
    fn partition_lag(&self) -> Option<BTreeMap<(Topic, u32), u64>> {
        let st = lock(&self.state);
        let lags = st
            .positions
            .iter()
            .filter_map(|(k, pos)| Some((*k, st.high.get(k)?.saturating_sub((*pos)?))))
            .collect();
        Some(lags)
    }

    fn commit_hint(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError> {
        let st = lock(&self.state);
        let mut tpl = TopicPartitionList::new();
        for (&(topic, p), &off) in positions {
            // Only owned partitions: another member owns the rest and commits them.
            if st.positions.contains_key(&(topic, p)) {
                tpl.add_partition_offset(
                    &self.config.topic_name(topic),
                    p as i32,
                    Offset::Offset(off as i64),
                )
                .map_err(|e| SourceError::Other(format!("kafka commit hint: {e}")))?;
            }
        }
        drop(st);
        if tpl.count() > 0 {
            self.consumer
                .commit(&tpl, CommitMode::Async)
                .map_err(|e| SourceError::Other(format!("kafka commit hint failed: {e}")))?;
        }
        Ok(())
    }
}
