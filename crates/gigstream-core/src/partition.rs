//! Key → partition, bit for bit like Kafka's Java default partitioner, so that the same key lands
//! in the same partition number whether events go through this log or through a Kafka cluster.

/// Kafka's `Utils.murmur2`: MurmurHash2 (32 bit) with seed `0x9747b28c`, little-endian blocks.
///
/// Returned as `i32` like the Java original so the values compare directly with Kafka's.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java's `int length` is 32 bits; keys are never near 4 GiB, so truncation is the Java
    // behaviour anyway.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    // The Java `switch` falls through from case 3 to case 1.
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner picks for a keyed record:
/// `toPositive(murmur2(key)) % partitions`, where `toPositive` clears the sign bit.
///
/// `partitions` must be at least 1 (topics cannot be created with 0); 0 yields partition 0.
pub fn partition_for(key: &[u8], partitions: u32) -> u32 {
    if partitions == 0 {
        return 0;
    }
    let positive = (murmur2(key) & 0x7fff_ffff) as u32;
    positive % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from Kafka's `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_kafka_vectors() {
        let cases: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key.as_bytes()), expected, "murmur2({key:?})");
        }
    }

    #[test]
    fn partition_is_positive_modulo() {
        // murmur2("21") = -973932308 → & 0x7fffffff = 1173551340.
        assert_eq!(partition_for(b"21", 2_000_000_000), 1_173_551_340);
        assert_eq!(partition_for(b"21", 7), 1_173_551_340 % 7);
        assert_eq!(partition_for(b"abc", 10), 479_470_107 % 10);
        assert_eq!(partition_for(b"anything", 1), 0);
    }
}
