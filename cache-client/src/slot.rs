//! Redis Cluster's key → hash slot function: `CRC16(key) mod 16384`, where only the key's hash
//! tag is hashed (the content of its first non-empty `{...}`, see [`hash_tag`]), so
//! `user:{42}:name` and `user:{42}:cart` share a slot.
//!
//! The CRC is CRC-16/XMODEM (polynomial `0x1021`, initial value 0, no reflection), the one Redis's
//! `crc16.c` computes; `CRC16("123456789") = 0x31C3`. This module is pure (no I/O, no state) and
//! is the one implementation of the slot function in the workspace: the server side of the
//! cluster (`CLUSTER KEYSLOT`, `-MOVED`, `-CROSSSLOT`) should call [`key_slot`] rather than keep a
//! second copy, so client and server can never disagree on where a key lives.

pub use crate::ring::hash_tag;

/// Number of hash slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The CRC-16/XMODEM lookup table, computed at compile time.
const TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        #[allow(clippy::cast_possible_truncation)]
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-16/XMODEM of `bytes`, as Redis's `crc16()`.
#[must_use]
pub fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &b| (crc << 8) ^ TABLE[usize::from((crc >> 8) as u8 ^ b)])
}

/// The hash slot (0..16384) of `key`: CRC16 of its hash tag, modulo 16384.
#[must_use]
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bit-at-a-time definition the table must agree with.
    fn crc16_bitwise(bytes: &[u8]) -> u16 {
        let mut crc = 0u16;
        for &b in bytes {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
            }
        }
        crc
    }

    #[test]
    fn known_values() {
        assert_eq!(crc16(b"123456789"), 0x31C3, "the CRC-16/XMODEM check value (Redis's crc16.c)");
        assert_eq!(crc16(b""), 0);
        // `CLUSTER KEYSLOT` of redis-server 7.0.15.
        for (key, slot) in [("foo", 12182), ("bar", 5061), ("hello", 866), ("key:0", 2592), ("", 0)] {
            assert_eq!(key_slot(key.as_bytes()), slot, "{key}");
        }
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 0x3fff, "an empty tag hashes the whole key");
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }

    proptest! {
        #[test]
        fn the_table_matches_the_bitwise_definition(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(crc16(&bytes), crc16_bitwise(&bytes));
            prop_assert!(key_slot(&bytes) < SLOTS);
        }
    }
}
