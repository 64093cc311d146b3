//! What memcached keeps per item beyond key, value, flags and CAS, packed into the 32-bit `meta`
//! word of an entry's Memcached `Memo` (so it costs nothing on top of the flags and CAS the item
//! already carries, and is inside the 80 B the `Memo` form is weighed at):
//!
//! ```text
//!   bit 0  STALE       `md I` / `ms I` marked it stale: `mg` answers X (and W to one client)
//!   bit 1  WIN_SENT    a win token (W) was handed out: later `mg`s answer Z
//!   bit 2  FETCHED     read at least once since stored (`mg h`, `me` fetch=)
//!   bit 3  KEY_BINARY  stored by a meta command with `b`: `k` returns the key base64-encoded
//!   bits 4..32         last access, unix seconds mod 2^28 (`mg l`, `me la=`; 8.5-year wrap)
//! ```
//!
//! Also here: memcached's base64 (its decoder's exact leniency), and the slab class and item size
//! memcached would give an item (`me`). Nothing here touches the keyspace.

/// Marked stale (`md I`, `ms I` with an older CAS).
pub const STALE: u32 = 1;
/// A win token was handed out.
pub const WIN_SENT: u32 = 2;
/// Fetched since stored.
pub const FETCHED: u32 = 4;
/// The key arrived base64-encoded (`b`).
pub const KEY_BINARY: u32 = 8;
const FLAG_BITS: u32 = 4;
const TIME_MASK: u32 = (1 << (32 - FLAG_BITS)) - 1;

fn secs(now_ms: u64) -> u32 {
    ((now_ms / 1000) as u32) & TIME_MASK
}

/// The meta word of an item stored now: no bits, last access now.
pub fn fresh(now_ms: u64) -> u32 {
    secs(now_ms) << FLAG_BITS
}

/// Seconds since the item was last accessed (`mg l`, `me la=`).
pub fn idle_secs(meta: u32, now_ms: u64) -> u32 {
    secs(now_ms).wrapping_sub(meta >> FLAG_BITS) & TIME_MASK
}

/// memcached's fetch bump: the first fetch marks the item fetched; later ones move its last
/// access to now. `None` when nothing changes (so a hot key is rewritten at most once a second).
pub fn bumped(meta: u32, now_ms: u64) -> Option<u32> {
    if meta & FETCHED == 0 {
        return Some(meta | FETCHED);
    }
    let now = fresh(now_ms) | (meta & ((1 << FLAG_BITS) - 1));
    (now != meta).then_some(now)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len().div_ceil(3) * 4);
    for chunk in src.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        b'=' => Some(0),
        _ => None,
    }
}

/// memcached's base64 decoder, leniency included: characters outside the alphabet are skipped,
/// the others must come in groups of four, `=` counts as a zero sextet and ends decoding after
/// its group (one or two of them drop one or two bytes; more is an error). `None` on error or an
/// empty result, as memcached answers `CLIENT_ERROR error decoding key` then.
pub fn base64_decode(src: &[u8]) -> Option<Vec<u8>> {
    let count = src.iter().filter(|c| sextet(**c).is_some()).count();
    if count == 0 || count % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(count / 4 * 3);
    let (mut block, mut n, mut pad) = ([0u8; 4], 0, 0);
    for &c in src {
        let Some(v) = sextet(c) else { continue };
        pad += usize::from(c == b'=');
        block[n] = v;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[
                block[0] << 2 | block[1] >> 4,
                block[1] << 4 | block[2] >> 2,
                block[2] << 6 | block[3],
            ]);
            n = 0;
            if pad > 0 {
                if pad > 2 {
                    return None;
                }
                out.truncate(out.len() - pad);
                break;
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The bytes memcached accounts an item at (`me` size=): header, CAS, key + NUL, value + CRLF,
/// and 4 bytes of client flags when they are not 0.
pub fn item_size(key_len: usize, value_len: usize, flags: u32) -> usize {
    super::parse::ITEM_HEADER + key_len + value_len + if flags == 0 { 0 } else { 4 }
}

/// The slab class memcached 1.6 (`-n 48 -f 1.25`, 512 KiB chunk limit) stores an item of
/// `size` bytes in (`me` cls=): chunk sizes from 96 growing by 1.25 (8-byte aligned).
pub fn slab_class(size: usize) -> u32 {
    const CHUNK_MAX: usize = 512 * 1024;
    let (mut chunk, mut class) = (96.0f64, 1u32);
    loop {
        let aligned = (chunk as usize).div_ceil(8) * 8;
        if size <= aligned || aligned as f64 > CHUNK_MAX as f64 / 1.25 {
            return class;
        }
        chunk = aligned as f64 * 1.25;
        class += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decoder_matches_memcached_on_its_odd_inputs() {
        assert_eq!(base64_decode(b"YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64_decode(b"YQ"), None);
        assert_eq!(base64_decode(b"YW=j"), Some(b"a`".to_vec()));
        assert_eq!(base64_decode(b"YQ=x"), Some(b"a\0".to_vec()));
        assert_eq!(base64_decode(b"YQ==YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64_decode(b"!!!!"), None);
        assert_eq!(base64_decode(b"Y!W!J!j"), Some(b"abc".to_vec()));
        assert_eq!(base64_decode(b"Y==="), None);
    }

    #[test]
    fn meta_word_keeps_bits_and_time() {
        let m = fresh(5_000) | STALE;
        assert_eq!(idle_secs(m, 12_999), 7);
        assert_eq!(bumped(m, 6_000), Some(m | FETCHED));
        let f = m | FETCHED;
        assert_eq!(bumped(f, 5_999), None);
        assert_eq!(bumped(f, 9_000), Some(fresh(9_000) | STALE | FETCHED));
    }

    #[test]
    fn slab_classes_follow_memcached_defaults() {
        assert_eq!(slab_class(62), 1);
        assert_eq!(slab_class(96), 1);
        assert_eq!(slab_class(97), 2);
        assert_eq!(slab_class(120), 2);
        assert_eq!(slab_class(121), 3);
    }

    proptest! {
        #[test]
        fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 1..64)) {
            prop_assert_eq!(base64_decode(&base64_encode(&bytes)), Some(bytes));
        }
    }
}
