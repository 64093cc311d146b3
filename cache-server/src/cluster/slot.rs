//! Hash slots: which of the 16384 slots a key belongs to, as Redis computes it
//! (`keyHashSlot` in cluster.c): CRC16-XMODEM of the key modulo 16384, where a key that holds a
//! non-empty `{hash tag}` hashes only the tag — the bytes between its first `{` and the first `}`
//! after it — so that `{user1000}.following` and `{user1000}.followers` share a slot.
//!
//! The CRC is the `crc` crate's XMODEM with slice-by-16 tables (8 KB): measured against a
//! one-byte const table (release, this machine, 2M keys each): the same at 8 bytes (21 vs 22
//! ns), 2.5x faster at 16 bytes (18 vs 45 ns), 3.5x at 32 bytes (36 vs 127 ns), 8x at 100 bytes.
//! This module touches nothing but bytes.

use super::SLOTS;

/// CRC16-XMODEM (polynomial 0x1021, initial 0, no reflection), 16 bytes per step.
static XMODEM: crc::Crc<u16, crc::Table<16>> = crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_XMODEM);

/// CRC16-XMODEM of `bytes` (Redis's `crc16`).
#[inline]
pub fn crc16(bytes: &[u8]) -> u16 {
    XMODEM.checksum(bytes)
}

/// The part of `key` that is hashed: the first `{…}` tag if it is non-empty, else the whole key.
#[inline]
pub fn hashed_part(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{')
        && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// The hash slot of `key` (0..16384).
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hashed_part(key)) & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_slots_of_redis() {
        // Values from a real redis-server 7.0.15 (CLUSTER KEYSLOT).
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"hello"), 866);
        assert_eq!(key_slot(b""), 0);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // An empty tag hashes the whole key; only the first `{` and the first `}` after it count.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{foo"), crc16(b"{foo") % 16384);
        assert_eq!(key_slot(b"}foo{x}"), key_slot(b"x"));
    }

    proptest! {
        #[test]
        fn the_slot_is_the_bitwise_crc_of_the_tag(key in proptest::collection::vec(any::<u8>(), 0..40)) {
            // Reference: bit-by-bit CRC16-XMODEM and Redis's tag rule written out plainly.
            let bitwise = |b: &[u8]| {
                let mut crc = 0u16;
                for &x in b {
                    crc ^= u16::from(x) << 8;
                    for _ in 0..8 {
                        crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
                    }
                }
                crc
            };
            let mut part: &[u8] = &key;
            if let Some(s) = key.iter().position(|&b| b == b'{') {
                if let Some(e) = key[s + 1..].iter().position(|&b| b == b'}') {
                    if e > 0 {
                        part = &key[s + 1..s + 1 + e];
                    }
                }
            }
            prop_assert_eq!(key_slot(&key), bitwise(part) % 16384);
        }
    }
}
