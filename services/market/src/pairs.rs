//! Serde for a `BTreeMap` as a sequence of `(key, value)` pairs.
//!
//! The state's maps have composite keys (a date, a platform, a segment); as a list of pairs they
//! serialise through any serde format (MessagePack for checkpoints, JSON when debugging), not
//! only the ones whose maps accept non-string keys. Pairs are written in key order, so the same
//! state always gives the same bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

pub fn serialize<K, V, S>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error>
where
    K: Serialize,
    V: Serialize,
    S: Serializer,
{
    s.collect_seq(map.iter())
}

pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
    D: Deserializer<'de>,
{
    let pairs: Vec<(K, V)> = Vec::deserialize(d)?;
    Ok(pairs.into_iter().collect())
}
