//! Reading gigstream topics from Kafka as one member of a consumer group, split by concern:
//! this module is the consumer (the poll loop, positions, end of input), [`rebalance`] what
//! assignments and revocations change, [`group`] joining the group and the progress hints
//! committed to it.
//!
//! Membership is left to Kafka's group protocol: librdkafka heartbeats from its own thread,
//! so a member whose sink is down (the runner retrying a commit) stays in the group and keeps
//! its partitions; it is only rebalanced away when it stops polling for longer than
//! `max.poll.interval.ms` (librdkafka's default: 5 minutes), and then nothing is lost either:
//! the partition's next owner resumes from the checkpoint stored with the output.

mod group;
mod rebalance;

use crate::{Error, KafkaConfig};
use gigstream_core::Topic;
use gigstream_runtime::{RecordRef, SourceError};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use rebalance::{lock, Ctx, State};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use gigstream_runtime::AssignmentChange;

/// Records handed over by one `poll` at most, so the runner commits and reports regularly.
const MAX_RECORDS_PER_POLL: usize = 10_000;
/// How long one wait inside `poll` lasts before the loop checks timeouts and the end.
const POLL_STEP: Duration = Duration::from_millis(100);
/// Least time between two end-of-partitions checks (watermark requests) while idle.
const END_CHECK_EVERY: Duration = Duration::from_millis(500);

/// One member of the consumer group of a service, reading its topics from Kafka.
///
/// Offsets: the authoritative positions are the ones stored with the service's output and
/// given to [`gigstream_runtime::Source::seek`]; on every assignment each partition starts at
/// its sought position (absent: earliest). Until `seek` is called it starts at the group's
/// committed offsets instead (absent: earliest), which is what tools without their own store
/// want. Commits ([`gigstream_runtime::Source::commit_hint`]) are asynchronous progress hints
/// for monitoring (`kafka-consumer-groups --describe` shows them).
///
/// Managed mode (the runtime, see [`gigstream_runtime::Source::take_assignment_changes`]):
/// newly assigned partitions hand out nothing until the runtime has loaded their checkpoints
/// (state is kept per partition) and sought them; revocations are reported so the runtime
/// commits the revoked partitions' output and releases them. The runtime does that right after
/// the `poll` in which the rebalance happened; correctness does not depend on the timing,
/// because the new owner resumes from the last checkpoint and table versions follow offsets.
pub struct KafkaSource {
    /// One consumer subscribed to all the service's topics: one member of the group per
    /// instance.
    consumer: BaseConsumer<Ctx>,
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

impl KafkaSource {
    /// Joins consumer group `group` and subscribes to `topics`.
    pub fn new(config: &KafkaConfig, group: &str, topics: &[Topic]) -> Result<KafkaSource, Error> {
        if group.is_empty() {
            return Err(Error::Setting {
                key: "group".into(),
                reason: "the consumer group is empty".into(),
            });
        }
        if topics.is_empty() {
            return Err(Error::Setting {
                key: "topics".into(),
                reason: "no topic to consume".into(),
            });
        }
        let names: HashMap<String, Topic> =
            topics.iter().map(|t| (config.topic_name(*t), *t)).collect();
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = mpsc::channel();
        let consumer = group::join(config, group, &names, &state, &tx)?;
        Ok(KafkaSource {
            consumer,
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
        Ok(group::offsets_of(&self.names, &tpl))
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

    /// Hands out the records of owned (and, under the runtime, sought) partitions until
    /// `MAX_RECORDS_PER_POLL`, an assignment change, the end of every partition, or
    /// `poll_wait` without records.
    fn next(&mut self, f: &mut dyn FnMut(RecordRef<'_>)) -> Result<usize, Error> {
        let started = Instant::now();
        self.at_end = false;
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
                            // A backlog of such records never lets the poll come back empty:
                            // hand control back on an assignment change or after `poll_wait`
                            // here too, or the runtime would never seek them.
                            if st.changed || started.elapsed() >= self.config.poll_wait {
                                st.changed = false;
                                break;
                            }
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
                        origin: None,
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
                        if since.elapsed() >= self.config.assign_timeout {
                            return Err(Error::Timeout {
                                what: format!("a partition assignment for group {}", self.group),
                                secs: self.config.assign_timeout.as_secs(),
                                brokers: self.config.brokers.clone(),
                                cause: lock(&self.state).last_client_error.clone(),
                            });
                        }
                    } else if self.at_end() {
                        self.at_end = true;
                        break;
                    }
                    // Hand control back now and then while waiting (for records, or for an
                    // assignment during a rebalance), so the runner can commit, report
                    // progress and stop on SIGTERM.
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
        let owned: std::collections::HashSet<(Topic, u32)> =
            lock(&self.state).positions.keys().copied().collect();
        group::commit_hint(&self.consumer, &self.config, positions, |k| {
            owned.contains(k)
        })
        .map_err(|e| SourceError::Other(format!("kafka {e}")))
    }
}
