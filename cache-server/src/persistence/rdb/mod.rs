//! Values in Redis's RDB format (version 10, Redis 7.0): the object types and their encodings,
//! over plain byte buffers. Nothing here touches the keyspace: DUMP / RESTORE
//! (`commands/dump.rs`) wrap one value in a payload ([`dump_payload`], [`open_payload`]), and RDB
//! snapshots will write and read the same value bodies between their key records.
//!
//! ```text
//!   Value ──encode.rs──► type byte + body ──► DUMP: body ‖ RDB version (u16 LE) ‖ CRC-64 (u64 LE)
//!     ▲                        │              RDB:  … type ‖ key ‖ body …   (next: snapshots)
//!     └──────decode.rs─────────┘
//!   body pieces: io.rs (lengths, strings, doubles) · lzf.rs · listpack.rs · intset.rs ·
//!                ziplist.rs (ziplist, zipmap: read only) · crc64.rs
//! ```
//!
//! The writer produces what Redis 7.0 writes for the same value and encoding, byte for byte
//! (checked against redis-server 7.0.15 in `tests/tests/dump_restore.rs`): strings
//! integer-encoded or LZF-compressed as `rdbSaveRawString` does; small hashes and sorted sets as
//! listpacks; lists as quicklist 2 of listpack nodes, split where Redis's quicklist splits a list
//! built by RPUSH under the `list-max-listpack-size` in force; sets as intsets or plain sets; large
//! sorted sets as `ZSET_2` from the greatest member down. Where the bytes legitimately differ
//! (the contents never do):
//! - hashtable-encoded hashes and sets come out in our iteration order, Redis's in its dict's;
//! - a list Redis built otherwise (LPUSH, LINSERT, a RESTORE keeps the loaded nodes) may have other
//!   node boundaries than RPUSH gives;
//! - streams are written as `STREAM_LISTPACKS_2` (`stream.rs`), node by node as our blocks cut
//!   them (Redis's default 100 entries / 4 KB): a stream Redis built under other
//!   `stream-node-max-*` settings, or one loaded by RESTORE (Redis keeps the loaded nodes, we
//!   re-cut them), may have other node boundaries.
//!
//! The reader accepts every encoding Redis 7.0 loads for strings, lists, sets, sorted sets and
//! hashes (types 0-5, 9-14, 16-18) and streams (15, 19), and rebuilds values through the types' public constructors,
//! so encodings and weights follow the thresholds in force as Redis converts after loading (a
//! packed sorted set stays packed unless it has too many members, a plain one is packed when it
//! fits; one difference: a hash listpack holding a value longer than `hash-max-listpack-value`
//! becomes a hashtable here, Redis keeps it packed). It is hostile-input safe: every length is
//! checked against the bytes that remain before it is used, every allocation is bounded by the
//! payload's size, and duplicates, NaN or non-numeric scores, empty collections and unknown
//! encodings are refused ([`Error`]) rather than loaded half-way. Type 21
//! (`STREAM_LISTPACKS_3`, Redis 7.2, RDB version 11) is refused as Redis 7.0 refuses it.

mod crc64;
mod decode;
mod encode;
pub mod intset;
pub mod io;
pub mod listpack;
pub mod lzf;
mod stream;
pub mod ziplist;

pub use crc64::crc64;
pub use decode::decode_value;
pub use encode::{encode_value, object_type};
pub use io::{Options, Reader};

/// The RDB version Redis 7.0 writes (and the newest it reads).
pub const RDB_VERSION: u16 = 10;

/// The object type bytes (`RDB_TYPE_*` in `rdb.h`).
pub mod types {
    /// A string.
    pub const STRING: u8 = 0;
    /// A list of strings (before quicklists).
    pub const LIST: u8 = 1;
    /// A set of strings.
    pub const SET: u8 = 2;
    /// A sorted set with scores as text.
    pub const ZSET: u8 = 3;
    /// A hash of field/value strings.
    pub const HASH: u8 = 4;
    /// A sorted set with binary scores.
    pub const ZSET_2: u8 = 5;
    /// A hash as a zipmap blob.
    pub const HASH_ZIPMAP: u8 = 9;
    /// A list as one ziplist blob.
    pub const LIST_ZIPLIST: u8 = 10;
    /// A set of integers as an intset blob.
    pub const SET_INTSET: u8 = 11;
    /// A sorted set as a ziplist blob.
    pub const ZSET_ZIPLIST: u8 = 12;
    /// A hash as a ziplist blob.
    pub const HASH_ZIPLIST: u8 = 13;
    /// A list as ziplist nodes.
    pub const LIST_QUICKLIST: u8 = 14;
    /// A stream (Redis 5).
    pub const STREAM_LISTPACKS: u8 = 15;
    /// A hash as a listpack blob.
    pub const HASH_LISTPACK: u8 = 16;
    /// A sorted set as a listpack blob.
    pub const ZSET_LISTPACK: u8 = 17;
    /// A list as listpack (or plain) nodes.
    pub const LIST_QUICKLIST_2: u8 = 18;
    /// A stream (Redis 7.0).
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Why a body or payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A length runs past the end of the data.
    #[error("truncated data")]
    Truncated,
    /// The data is inconsistent (what is wrong).
    #[error("corrupt data: {0}")]
    Corrupt(&'static str),
    /// A type this reader does not load.
    #[error("unsupported object type {0}")]
    UnknownType(u8),
    /// A value this writer cannot serialize (none since streams are written; kept for future
    /// types).
    #[error("{0} values are not serialized yet")]
    Unsupported(&'static str),
    /// A DUMP payload's footer: too short, a newer RDB version, or a checksum mismatch.
    #[error("DUMP payload version or checksum are wrong")]
    Footer,
}

/// The DUMP payload of `v`: type byte, body, RDB version and CRC-64, as Redis's `DUMP` replies.
pub fn dump_payload(v: &crate::entry::Value, opts: Options) -> Result<Vec<u8>, Error> {
    let mut out = vec![object_type(v)?];
    encode_value(v, opts, &mut out)?;
    Ok(seal(out))
}

/// Ends a DUMP-style payload (a value's, or FUNCTION DUMP's records): RDB version, then the
/// CRC-64 of everything before it, both little-endian.
pub fn seal(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The type byte and body of a DUMP payload whose footer is sound (`verifyDumpPayload`): at
/// least 10 bytes, an RDB version Redis 7.0 reads, a matching CRC-64.
pub fn open_payload(payload: &[u8]) -> Result<&[u8], Error> {
    if payload.len() < 10 {
        return Err(Error::Footer);
    }
    let (rest, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([rest[rest.len() - 2], rest[rest.len() - 1]]);
    if version > RDB_VERSION || crc64(0, rest).to_le_bytes() != crc {
        return Err(Error::Footer);
    }
    Ok(&rest[..rest.len() - 2])
}

/// The value of a DUMP payload (RESTORE's decoding): footer checked, then type and body. Like
/// Redis, which reads the object from the whole payload buffer, a body may run on into the
/// footer's bytes, and bytes after the value are ignored.
pub fn restore_payload(payload: &[u8]) -> Result<crate::entry::Value, Error> {
    open_payload(payload)?;
    let mut r = Reader::new(payload);
    let ty = r.byte()?;
    decode_value(ty, &mut r)
}

#[cfg(test)]
mod tests;
