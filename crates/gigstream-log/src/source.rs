//! The embedded log as a [`gigstream_runtime::Source`]: what a service reads when no Kafka is
//! configured.

use crate::{Batch, Log, LogError, PartitionReader};
use gigstream_core::Topic;
use gigstream_runtime::{AssignmentChange, Origin, RecordRef, Source, SourceError};
use std::collections::BTreeMap;

/// Makes a log error a source error (`?` in [`Source`] methods).
fn src(e: LogError) -> SourceError {
    SourceError::Backend {
        what: "event log",
        source: Box::new(e),
    }
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
            if !log.topics().map_err(src)?.iter().any(|n| n == t.name()) {
                log.create_topic(t.name(), partitions).map_err(src)?;
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
            for partition in 0..self.log.partitions(topic.name()).map_err(src)? {
                let from = positions.get(&(topic, partition)).copied().unwrap_or(0);
                parts.push(Part {
                    topic,
                    partition,
                    reader: self
                        .log
                        .reader(topic.name(), partition, from)
                        .map_err(src)?,
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
            part.reader
                .read(&mut self.batch, self.max_bytes)
                .map_err(src)?;
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
                    origin: Origin::from_headers(|name| r.headers.get(name)),
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
        self.log.commit_many(&self.group, &list).map_err(src)?;
        Ok(())
    }
}
