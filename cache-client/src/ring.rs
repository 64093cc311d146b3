//! [`Ring`]: consistent hashing with virtual nodes (ketama-style) and Redis hash tags.
//!
//! Each node gets `POINTS_PER_WEIGHT × weight` points on a 64-bit circle, at the hashes of
//! `"{name}-{i}"`; a key belongs to the first point at or after its hash (wrapping). Adding or
//! removing one of N nodes therefore moves only the keys of the arcs it gains or loses, about
//! 1/N of them. Only the part of a key inside its first non-empty `{...}` is hashed, so
//! `user:{42}:name` and `user:{42}:email` live on the same node. The hash is FNV-1a followed by
//! a 64-bit finalizer: fixed and platform-independent, so every client instance agrees on where
//! a key lives. No I/O, no node state.

/// Points per unit of weight (ketama uses 160).
pub const POINTS_PER_WEIGHT: u32 = 160;

/// The hash ring: node indexes placed on a circle.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    /// `(point, node index)`, sorted by point.
    points: Vec<(u64, usize)>,
}

impl Ring {
    /// A ring of `nodes` given as `(name, weight)`; a node's index is its position in `nodes`.
    #[must_use]
    pub fn new<S: AsRef<str>>(nodes: &[(S, u32)]) -> Self {
        let mut points = Vec::new();
        for (index, (name, weight)) in nodes.iter().enumerate() {
            for i in 0..POINTS_PER_WEIGHT * weight {
                points.push((hash(format!("{}-{i}", name.as_ref()).as_bytes()), index));
            }
        }
        points.sort_unstable();
        // Two nodes on one point (a 64-bit collision) would make ownership depend on input
        // order; keep the first.
        points.dedup_by_key(|p| p.0);
        Self { points }
    }

    /// The index of the node owning `key`, or `None` for an empty ring.
    #[must_use]
    pub fn node_for(&self, key: &[u8]) -> Option<usize> {
        if self.points.is_empty() {
            return None;
        }
        let h = hash(hash_tag(key));
        let i = self.points.partition_point(|&(p, _)| p < h);
        Some(self.points.get(i).unwrap_or(&self.points[0]).1)
    }
}

/// The part of `key` that is hashed: the content of its first `{...}` if non-empty, else all
/// of it (Redis Cluster's rule).
#[must_use]
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// FNV-1a, then the murmur3 finalizer to spread FNV's weak low bits over the whole word.
#[must_use]
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(n: usize) -> Vec<(String, u32)> {
        (0..n).map(|i| (format!("10.0.0.{i}:6379"), 1)).collect()
    }

    fn keys() -> Vec<Vec<u8>> {
        (0..10_000).map(|i| format!("key:{i}").into_bytes()).collect()
    }

    #[test]
    fn hash_tags_follow_redis_rules() {
        assert_eq!(hash_tag(b"user:{42}:name"), b"42");
        assert_eq!(hash_tag(b"{a}{b}"), b"a");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}", "an empty first tag hashes the whole key");
        assert_eq!(hash_tag(b"foo{{bar}}"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
        assert_eq!(hash_tag(b"plain"), b"plain");
        let ring = Ring::new(&names(5));
        for i in 0..100 {
            let a = format!("user:{{{i}}}:name");
            let b = format!("cart:{{{i}}}");
            assert_eq!(ring.node_for(a.as_bytes()), ring.node_for(b.as_bytes()));
        }
    }

    #[test]
    fn load_is_balanced_and_follows_weights() {
        let mut nodes = names(4);
        nodes[3].1 = 2;
        let ring = Ring::new(&nodes);
        let mut counts = [0usize; 4];
        for k in keys() {
            counts[ring.node_for(&k).unwrap()] += 1;
        }
        // Expected shares 1/5, 1/5, 1/5, 2/5 of 10k.
        for &c in &counts[..3] {
            assert!((1500..2500).contains(&c), "{counts:?}");
        }
        assert!((3200..4800).contains(&counts[3]), "{counts:?}");
        assert_eq!(Ring::default().node_for(b"k"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Adding one node to N (or removing one of N) remaps a fraction of 10k keys within
        /// [0.5/N, 1.5/N] of the ideal 1/N, and only keys that move to (or from) that node.
        #[test]
        fn one_node_change_remaps_about_one_nth(n in 2usize..12, removed in 0usize..12, seed in 0u32..1000) {
            let all: Vec<(String, u32)> = (0..=n).map(|i| (format!("node-{seed}-{i}:6379"), 1)).collect();
            let keys = keys();
            // Grow from n to n + 1 nodes.
            let before = Ring::new(&all[..n]);
            let after = Ring::new(&all);
            let mut moved = 0;
            for k in &keys {
                let (a, b) = (before.node_for(k).unwrap(), after.node_for(k).unwrap());
                if a != b {
                    prop_assert_eq!(b, n, "a key moved between two old nodes");
                    moved += 1;
                }
            }
            let ideal = 1.0 / (n + 1) as f64;
            let frac = moved as f64 / keys.len() as f64;
            prop_assert!(frac >= 0.5 * ideal && frac <= 1.5 * ideal, "add: moved {frac}, ideal {ideal}");

            // Remove one of n nodes (indexes shift; compare by name).
            let gone = removed % n;
            let rest: Vec<(String, u32)> = all[..n].iter().enumerate().filter(|(i, _)| *i != gone).map(|(_, x)| x.clone()).collect();
            let smaller = Ring::new(&rest);
            let mut moved = 0;
            for k in &keys {
                let a = &all[before.node_for(k).unwrap()].0;
                let b = &rest[smaller.node_for(k).unwrap()].0;
                if a != b {
                    prop_assert_eq!(a, &all[gone].0, "a key moved off a node that stayed");
                    moved += 1;
                }
            }
            let ideal = 1.0 / n as f64;
            let frac = moved as f64 / keys.len() as f64;
            prop_assert!(frac >= 0.5 * ideal && frac <= 1.5 * ideal, "remove: moved {frac}, ideal {ideal}");
        }
    }
}
