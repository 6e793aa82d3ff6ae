//! The per-record pipeline of one service and its checkpoint.

use crate::dead_letter::{dead_letter_table, DeadLetter, POSITIONS};
use crate::dedup::Dedup;
use crate::source::RecordRef;
use gigstream_avro::Codec;
use gigstream_core::table::{datetime_ms, TableData, Value};
use gigstream_core::validate::validate;
use gigstream_core::{Event, Projection, RefData, Topic};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Counters since the service's first start (they are part of the checkpoint).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Records read, per topic.
    pub consumed: BTreeMap<String, u64>,
    /// Events folded into the projection, per topic.
    pub applied: BTreeMap<String, u64>,
    /// Events whose id was seen before, counted once.
    pub duplicates: u64,
    /// Records skipped because the source redelivered an offset already reflected.
    pub redelivered: u64,
    /// Dead letters per reason code.
    pub dead_lettered: BTreeMap<String, u64>,
}

impl Stats {
    pub fn consumed_total(&self) -> u64 {
        self.consumed.values().sum()
    }
    pub fn applied_total(&self) -> u64 {
        self.applied.values().sum()
    }
    pub fn dead_lettered_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Duplicate,
    Redelivered,
    DeadLettered,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PartitionState {
    next_offset: u64,
    watermark: i64,
    dedup: Dedup,
}

/// Everything a service needs to resume exactly where its committed tables stop.
#[derive(Serialize, Deserialize)]
pub struct Checkpoint<P> {
    pub format: u32,
    pub service: String,
    partitions: BTreeMap<(Topic, u32), PartitionState>,
    pub dead_letters: Vec<DeadLetter>,
    pub stats: Stats,
    pub state: P,
}

const CHECKPOINT_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error("the {service} checkpoint cannot be read ({message}); it was written by another version or is damaged: remove the service's tables directory to rebuild it from the log")]
    Checkpoint { service: String, message: String },
}

/// Runs records through decode → validate → lateness → dedup → fold for projection `P`.
pub struct Processor<P: Projection> {
    codec: Codec,
    refdata: Arc<RefData>,
    lateness_ms: i64,
    ck: Checkpoint<P>,
}

impl<P: Projection> Processor<P> {
    pub fn new(codec: Codec, refdata: Arc<RefData>) -> Processor<P> {
        let state = P::new(&refdata);
        Processor {
            codec,
            lateness_ms: refdata.pipeline.allowed_lateness_ms(),
            refdata,
            ck: Checkpoint {
                format: CHECKPOINT_FORMAT,
                service: P::NAME.to_string(),
                partitions: BTreeMap::new(),
                dead_letters: Vec::new(),
                stats: Stats::default(),
                state,
            },
        }
    }

    /// Restores from a committed checkpoint.
    pub fn restore(
        codec: Codec,
        refdata: Arc<RefData>,
        bytes: &[u8],
    ) -> Result<Processor<P>, ProcessorError> {
        let err = |message: String| ProcessorError::Checkpoint {
            service: P::NAME.to_string(),
            message,
        };
        let ck: Checkpoint<P> = rmp_serde::from_slice(bytes).map_err(|e| err(e.to_string()))?;
        if ck.format != CHECKPOINT_FORMAT || ck.service != P::NAME {
            return Err(err(format!(
                "format {} of service {}",
                ck.format, ck.service
            )));
        }
        Ok(Processor {
            codec,
            lateness_ms: refdata.pipeline.allowed_lateness_ms(),
            refdata,
            ck,
        })
    }

    pub fn checkpoint_bytes(&self) -> Vec<u8> {
        rmp_serde::to_vec(&self.ck)
            .expect("projection state serialises (checked by each projection's tests)")
    }

    /// Next offset per partition: where the source must resume.
    pub fn positions(&self) -> BTreeMap<(Topic, u32), u64> {
        self.ck
            .partitions
            .iter()
            .map(|(k, p)| (*k, p.next_offset))
            .collect()
    }

    pub fn stats(&self) -> &Stats {
        &self.ck.stats
    }

    pub fn state(&self) -> &P {
        &self.ck.state
    }

    pub fn refdata(&self) -> &RefData {
        &self.refdata
    }

    pub fn dead_letters(&self) -> &[DeadLetter] {
        &self.ck.dead_letters
    }

    /// Handles one record.
    pub fn process(&mut self, rec: RecordRef<'_>) -> Outcome {
        let part = self
            .ck
            .partitions
            .entry((rec.topic, rec.partition))
            .or_default();
        if rec.offset < part.next_offset {
            self.ck.stats.redelivered += 1;
            return Outcome::Redelivered;
        }
        part.next_offset = rec.offset + 1;
        bump(&mut self.ck.stats.consumed, rec.topic.name());

        let event = match self.codec.decode(rec.topic, rec.value) {
            Ok(e) => e,
            Err(e) => return self.dead_letter(&rec, e.code(), e.to_string()),
        };
        if let Err(inv) = validate(&event, &self.refdata, rec.timestamp_ms) {
            return self.dead_letter(&rec, inv.code, inv.detail);
        }
        let part = self
            .ck
            .partitions
            .get_mut(&(rec.topic, rec.partition))
            .expect("partition entry created above");
        let t = event.occurred_at();
        if part.watermark > 0 && t < part.watermark - self.lateness_ms {
            let detail = format!(
                "event time {} is older than the partition's newest event time {} minus the allowed lateness {}",
                gigstream_core::time::fmt_ts(t),
                gigstream_core::time::fmt_ts(part.watermark),
                self.refdata.pipeline.allowed_lateness
            );
            return self.dead_letter(&rec, "late", detail);
        }
        if t > part.watermark {
            part.watermark = t;
            // Evict by whole days, and only when a new day starts, to keep this cheap.
            if t.div_euclid(gigstream_core::time::DAY_MS)
                != (t - 1).div_euclid(gigstream_core::time::DAY_MS)
                || part.dedup.len() > 1 << 22
            {
                part.dedup.evict_before(t - self.lateness_ms);
            }
        }
        if !part.dedup.insert(event.event_id(), t) {
            self.ck.stats.duplicates += 1;
            return Outcome::Duplicate;
        }
        match self.ck.state.apply(&self.refdata, &event) {
            Ok(()) => {
                bump(&mut self.ck.stats.applied, rec.topic.name());
                Outcome::Applied
            }
            Err(rej) => self.dead_letter(&rec, rej.code, rej.detail),
        }
    }

    /// Applies an already decoded event, as if read at `rec` (used by verification tools).
    pub fn apply_event(&mut self, event: &Event) -> Result<(), gigstream_core::Rejection> {
        self.ck.state.apply(&self.refdata, event)
    }

    fn dead_letter(&mut self, rec: &RecordRef<'_>, code: &str, reason: String) -> Outcome {
        tracing::debug!(service = P::NAME, topic = %rec.topic, partition = rec.partition, offset = rec.offset, code, %reason, "dead letter");
        bump(&mut self.ck.stats.dead_lettered, code);
        self.ck.dead_letters.push(DeadLetter {
            service: P::NAME.to_string(),
            topic: rec.topic.name().to_string(),
            partition: rec.partition,
            offset: rec.offset,
            timestamp_ms: rec.timestamp_ms,
            code: code.to_string(),
            reason,
            key: rec.key.to_vec(),
            value: rec.value.to_vec(),
        });
        Outcome::DeadLettered
    }

    /// Every table the service writes: the projection's, its dead letters and its positions.
    pub fn tables(&self) -> Vec<TableData> {
        let mut out = self.ck.state.tables(&self.refdata);
        out.push(dead_letter_table(&self.ck.dead_letters));
        let mut pos = TableData::new(&POSITIONS);
        for ((topic, partition), p) in &self.ck.partitions {
            pos.push(vec![
                Value::Str(P::NAME.to_string()),
                Value::Str(topic.name().to_string()),
                Value::U32(*partition),
                Value::U64(p.next_offset),
                datetime_ms(p.watermark),
            ]);
        }
        out.push(pos);
        out
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(v) => *v += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}
