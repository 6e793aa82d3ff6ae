//! Where records come from. The embedded log implements [`Source`] here; the Kafka source
//! implements the same trait.

use gigstream_core::Topic;
use gigstream_log::{Batch, Log, PartitionReader};
use std::collections::BTreeMap;

/// One record, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub topic: Topic,
    pub partition: u32,
    pub offset: u64,
    /// Append (create) time of the record, ms.
    pub timestamp_ms: i64,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("event log: {0}")]
    Log(#[from] gigstream_log::LogError),
    #[error("{0}")]
    Other(String),
}

/// A change of the partitions this instance owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    Assigned(Vec<(Topic, u32)>),
    Revoked(Vec<(Topic, u32)>),
}

/// A stream of records from a set of topic partitions.
pub trait Source: Send {
    /// Ownership changes since the last call, in order. The runner adopts assigned partitions
    /// (loading their checkpoints) and then calls [`Source::seek`]; it commits revoked ones and
    /// releases them. Records of an assigned partition are only handed out after that `seek`.
    fn take_assignment_changes(&mut self) -> Vec<AssignmentChange>;

    /// Whether this instance is the only reader of the service's partitions (the embedded log),
    /// so no other instance commits checkpoints of the same service.
    fn exclusive(&self) -> bool;

    /// Positions every owned partition at the given next offset (0 when absent) and starts
    /// handing out its records.
    fn seek(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError>;

    /// Hands the next available records to `f` and returns how many; 0 means nothing is
    /// available right now (caught up).
    fn poll(&mut self, f: &mut dyn FnMut(RecordRef<'_>)) -> Result<usize, SourceError>;

    /// Whether the last `poll` that returned 0 did so because every owned partition is at its
    /// end (not because the wait ran out, e.g. during a rebalance). Runs that stop when caught
    /// up only stop when this holds.
    fn caught_up(&self) -> bool {
        true
    }

    /// Records between the current positions and the end of every partition, if known.
    fn lag(&self) -> Option<u64>;

    /// [`Source::lag`] per owned partition, for monitoring; `None` when the source cannot
    /// tell (the default). Partitions whose end is not known yet are left out.
    fn partition_lag(&self) -> Option<BTreeMap<(Topic, u32), u64>> {
        None
    }

    /// Tells the source which positions are now committed with the output, as a progress hint
    /// for monitoring (Kafka's committed offsets, the embedded log's group positions). The
    /// authoritative positions stay in the sink's checkpoint.
    fn commit_hint(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError>;
}

struct Part {
    topic: Topic,
    partition: u32,
    reader: PartitionReader,
}

/// Reads topics of the embedded log, every partition in turn, in a deterministic order.
pub struct EmbeddedSource {
    log: Log,
    group: String,
    topics: Vec<Topic>,
    parts: Vec<Part>,
    next: usize,
    batch: Batch,
    max_bytes: usize,
    /// The one assignment (every partition) is still to be reported.
    announce: bool,
}

impl EmbeddedSource {
    /// A source over `topics` for consumer group `group`; topics missing from the log are
    /// created with `partitions`.
    pub fn new(
        log: Log,
        group: &str,
        topics: &[Topic],
        partitions: u32,
    ) -> Result<EmbeddedSource, SourceError> {
        for t in topics {
            if !log.topics()?.iter().any(|n| n == t.name()) {
                log.create_topic(t.name(), partitions)?;
            }
        }
        let mut s = EmbeddedSource {
            log,
            group: group.to_string(),
            topics: topics.to_vec(),
            parts: Vec::new(),
            next: 0,
            batch: Batch::default(),
            max_bytes: 1 << 20,
            announce: true,
        };
        s.seek(&BTreeMap::new())?;
        Ok(s)
    }
}

impl Source for EmbeddedSource {
    fn take_assignment_changes(&mut self) -> Vec<AssignmentChange> {
        if !std::mem::take(&mut self.announce) {
            return Vec::new();
        }
        let all = self.parts.iter().map(|p| (p.topic, p.partition)).collect();
        vec![AssignmentChange::Assigned(all)]
    }

    fn exclusive(&self) -> bool {
        true
    }

    fn seek(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError> {
        let mut parts = Vec::new();
        for &topic in &self.topics {
            for partition in 0..self.log.partitions(topic.name())? {
                let from = positions.get(&(topic, partition)).copied().unwrap_or(0);
                parts.push(Part {
                    topic,
                    partition,
                    reader: self.log.reader(topic.name(), partition, from)?,
                });
            }
        }
        self.parts = parts;
        self.next = 0;
        Ok(())
    }

    fn poll(&mut self, f: &mut dyn FnMut(RecordRef<'_>)) -> Result<usize, SourceError> {
        for _ in 0..self.parts.len() {
            let i = self.next;
            self.next = (self.next + 1) % self.parts.len();
            let part = &mut self.parts[i];
            part.reader.read(&mut self.batch, self.max_bytes)?;
            let mut n = 0;
            for r in self.batch.iter() {
                n += 1;
                f(RecordRef {
                    topic: part.topic,
                    partition: part.partition,
                    offset: r.offset,
                    timestamp_ms: r.timestamp_ms,
                    key: r.key,
                    value: r.value,
                });
            }
            if n > 0 {
                // Stay on a partition while it has data: fewer, larger reads.
                self.next = i;
                return Ok(n);
            }
        }
        Ok(0)
    }

    fn lag(&self) -> Option<u64> {
        let mut lag = 0;
        for p in &self.parts {
            let end = self.log.end_offset(p.topic.name(), p.partition).ok()?;
            lag += end.saturating_sub(p.reader.position());
        }
        Some(lag)
    }

    fn partition_lag(&self) -> Option<BTreeMap<(Topic, u32), u64>> {
        let mut out = BTreeMap::new();
        for p in &self.parts {
            if let Ok(end) = self.log.end_offset(p.topic.name(), p.partition) {
                out.insert(
                    (p.topic, p.partition),
                    end.saturating_sub(p.reader.position()),
                );
            }
        }
        Some(out)
    }

    fn commit_hint(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError> {
        let list: Vec<(&str, u32, u64)> = positions
            .iter()
            .map(|((t, p), o)| (t.name(), *p, *o))
            .collect();
        self.log.commit_many(&self.group, &list)?;
        Ok(())
    }
}
