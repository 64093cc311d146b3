//! `stats detail on|off|dump`: per-key-prefix counters as memcached 1.6 keeps them. A key's prefix
//! is what precedes its first `:` (keys without one are not counted); `get`/`gets`/`gat`/`gats`
//! count a get per key (and a hit when found), every storage command a set (whatever its outcome),
//! `delete` a del (found or not); meta commands, touch and incr/decr count nothing. The dump lists
//! prefixes in memcached's order: by bucket (MurmurHash3 of the prefix, mod 256), newest first
//! within a bucket, so two servers that saw the same keys print the same bytes. `stats reset`
//! clears the table. Unlike memcached the table is bounded ([`MAX_PREFIXES`]); past it new
//! prefixes are not counted.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Most prefixes counted at once.
pub const MAX_PREFIXES: usize = 10_000;
const BUCKETS: usize = 256;

/// What to count.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// A retrieval of one key.
    Get {
        /// Found.
        hit: bool,
    },
    /// A storage command.
    Set,
    /// A delete.
    Delete,
}

#[derive(Debug, Default)]
struct Prefix {
    name: Vec<u8>,
    gets: u64,
    hits: u64,
    sets: u64,
    dels: u64,
}

#[derive(Debug, Default)]
struct Table {
    /// Per bucket, oldest first (the dump walks it backwards, as memcached's lists are newest first).
    buckets: Vec<Vec<Prefix>>,
    count: usize,
}

/// The prefix counters and the on/off switch.
#[derive(Debug, Default)]
pub struct Detail {
    enabled: AtomicBool,
    table: Mutex<Table>,
}

impl Detail {
    /// `stats detail on|off`.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Relaxed);
    }

    /// Whether counting is on (`stats settings` `detail_enabled`).
    pub fn enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    /// Counts `op` on `key` when detail is on.
    pub fn record(&self, key: &[u8], op: Op) {
        if !self.enabled() {
            return;
        }
        let key = key.split(|b| *b == 0).next().unwrap_or_default();
        let Some(len) = key.iter().position(|b| *b == b':') else { return };
        let name = &key[..len];
        let mut t = self.table.lock();
        if t.buckets.is_empty() {
            t.buckets.resize_with(BUCKETS, Vec::new);
        }
        let b = murmur3_32(name) as usize % BUCKETS;
        let at = t.buckets[b].iter().rposition(|p| p.name == name);
        let i = match at {
            Some(i) => i,
            None if t.count >= MAX_PREFIXES => return,
            None => {
                t.count += 1;
                t.buckets[b].push(Prefix { name: name.to_vec(), ..Prefix::default() });
                t.buckets[b].len() - 1
            }
        };
        let p = &mut t.buckets[b][i];
        match op {
            Op::Get { hit } => {
                p.gets += 1;
                p.hits += u64::from(hit);
            }
            Op::Set => p.sets += 1,
            Op::Delete => p.dels += 1,
        }
    }

    /// Forgets every prefix (`stats reset`).
    pub fn clear(&self) {
        *self.table.lock() = Table::default();
    }

    /// The `stats detail dump` reply.
    pub fn dump(&self, out: &mut Vec<u8>) {
        let t = self.table.lock();
        for bucket in &t.buckets {
            for p in bucket.iter().rev() {
                out.extend_from_slice(b"PREFIX ");
                out.extend_from_slice(&p.name);
                let counts = format!(" get {} hit {} set {} del {}\r\n", p.gets, p.hits, p.sets, p.dels);
                out.extend_from_slice(counts.as_bytes());
            }
        }
        out.extend_from_slice(b"END\r\n");
    }
}

/// MurmurHash3 x86 32-bit with seed 0, memcached's default hash.
fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h: u32 = 0;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]).wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h = (h ^ k).rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k |= u32::from(*b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_reference_values() {
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(murmur3_32(b"Hello, world!"), 0xc036_3e43);
    }

    #[test]
    fn dump_matches_memcached_order() {
        // The sequence and dump bytes observed from memcached 1.6.18.
        let d = Detail::default();
        d.set_enabled(true);
        for (k, op) in [
            (&b"a:1"[..], Op::Set),
            (b"a:1", Op::Get { hit: true }),
            (b"a:2", Op::Get { hit: false }),
            (b"nocolon", Op::Get { hit: false }),
            (b"b:1", Op::Get { hit: false }),
            (b"a:1", Op::Delete),
            (b"zz:1", Op::Delete),
            (b"a:9", Op::Get { hit: false }),
            (b"a:1", Op::Set),
            (b"a:1", Op::Set),
            (b"c:1", Op::Set),
            (b":x", Op::Get { hit: false }),
            (b"x:", Op::Get { hit: false }),
            (b"a::b", Op::Get { hit: false }),
        ] {
            d.record(k, op);
        }
        let mut out = Vec::new();
        d.dump(&mut out);
        let want = "PREFIX  get 1 hit 0 set 0 del 0\r\nPREFIX b get 1 hit 0 set 0 del 0\r\n\
                    PREFIX zz get 0 hit 0 set 0 del 1\r\nPREFIX x get 1 hit 0 set 0 del 0\r\n\
                    PREFIX c get 0 hit 0 set 1 del 0\r\nPREFIX a get 4 hit 1 set 3 del 1\r\nEND\r\n";
        assert_eq!(String::from_utf8_lossy(&out), want);
    }
}
