//! Loading a whole RDB file at start: ours, or one written by Redis (versions 1 to 10, so a
//! Redis 7.0 `dump.rdb` copied in place migrates). Every record is checked as it is read; the
//! first problem — a truncated file, a corrupt value, an unknown type or opcode, a duplicate key, a
//! database index past `databases`, a checksum mismatch — refuses the load with an error naming
//! the byte offset and the key, and the server does not start (as Redis exits). The file is only
//! ever read, never moved or changed: fix it or move it away to start empty.
//!
//! Keys already expired are skipped (counted, as Redis does on a master). An `IDLE` / `FREQ`
//! record seeds the next key's access clock when it matches the policy in force (Redis's
//! `objectSetLRUOrLFU`: `IDLE` under a non-LFU policy, `FREQ` under an LFU one, the other is
//! ignored; see `commands/object.rs`); function libraries
//! (`FUNCTION2`) are loaded into the function registry; aux fields are skipped, except ours
//! carrying a Memcached item's flags, CAS unique and meta bits ([`super::file::MC_AUX`]).

use super::file::{MC_AUX, opcode};
use super::rdb::{self, Reader, crc64};
use crate::db::Entry;
use crate::server::Shared;
use std::path::Path;

/// What a load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Keys put in the keyspace.
    pub keys: u64,
    /// Keys skipped because they had expired.
    pub expired: u64,
    /// File size.
    pub bytes: u64,
}

/// Why a file was refused: where, on which key, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to load RDB file {path}: {what} at byte offset {offset}{}", key.as_ref().map(|k| format!(" (key {k:?})")).unwrap_or_default())]
pub struct LoadError {
    /// The file.
    pub path: String,
    /// Offset of the record (or byte) where the problem was found.
    pub offset: u64,
    /// The key being read, when there was one.
    pub key: Option<String>,
    /// What was wrong.
    pub what: String,
}

/// Loads `path` into the keyspace if it exists (`Ok(None)` when it does not).
///
/// # Errors
/// A [`LoadError`]; keys loaded before the problem stay (the caller does not start).
pub fn load_file(shared: &Shared, path: &Path) -> Result<Option<Loaded>, LoadError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            let what = format!("cannot read it: {e}");
            return Err(LoadError { path: path.display().to_string(), offset: 0, key: None, what });
        }
    };
    load(shared, &bytes, &path.display().to_string()).map(Some)
}

/// Loads the RDB image `b` (named `name` in errors) into the keyspace.
///
/// # Errors
/// A [`LoadError`]; keys loaded before the problem stay.
pub fn load(shared: &Shared, b: &[u8], name: &str) -> Result<Loaded, LoadError> {
    let fail = |offset: usize, key: Option<&[u8]>, what: String| LoadError {
        path: name.to_string(),
        offset: offset as u64,
        key: key.map(|k| String::from_utf8_lossy(k).into_owned()),
        what,
    };
    if b.len() < 9 || &b[..5] != b"REDIS" {
        return Err(fail(0, None, "not an RDB file (no REDIS signature)".into()));
    }
    let version = std::str::from_utf8(&b[5..9]).ok().and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
    if !(1..=rdb::RDB_VERSION).contains(&version) {
        return Err(fail(
            5,
            None,
            format!("RDB format version {} is not supported (1 to 10 are)", &b[5..9].escape_ascii()),
        ));
    }
    let (checksum, databases) = {
        let cfg = shared.config.read();
        (cfg.get("rdbchecksum").is_none_or(|v| v != "no"), shared.db.databases())
    };
    let db = &shared.db;
    let now = db.clock.now_ms();
    let mut r = Reader::new(b);
    r.take(9).map_err(|_| fail(0, None, "truncated header".into()))?;
    let at = |r: &Reader<'_>| b.len() - r.remaining();
    let mut loaded = Loaded { bytes: b.len() as u64, ..Loaded::default() };
    let (mut dbi, mut expire_at, mut mc, mut max_cas) = (0u32, 0u64, None::<(u32, u64, u32)>, 0u64);
    let (mut idle, mut freq) = (None::<u64>, None::<u8>);
    let (policy, clock_ms) = (shared.config.read().maxmemory_policy, db.access_time_ms());
    loop {
        let start = at(&r);
        let bad = |e: rdb::Error| fail(start, None, describe(&e));
        match r.byte().map_err(|_| fail(start, None, "unexpected end of file (no EOF marker)".into()))? {
            opcode::EXPIRETIME_MS => {
                expire_at = u64::from_le_bytes(r.take(8).map_err(bad)?.try_into().expect("8 bytes"));
            }
            opcode::EXPIRETIME => {
                expire_at = u64::from(u32::from_le_bytes(r.take(4).map_err(bad)?.try_into().expect("4 bytes"))) * 1000;
            }
            opcode::FREQ => {
                freq = Some(r.byte().map_err(bad)?);
            }
            opcode::IDLE => {
                idle = Some(r.read_len().map_err(bad)?);
            }
            opcode::SELECTDB => {
                let n = r.read_len().map_err(bad)?;
                if n >= databases as u64 {
                    let what = format!("database {n} does not exist (the server has `databases {databases}`)");
                    return Err(fail(start, None, what));
                }
                dbi = n as u32;
            }
            opcode::RESIZEDB => {
                r.read_len().map_err(bad)?;
                r.read_len().map_err(bad)?;
            }
            opcode::AUX => {
                let name = r.string().map_err(bad)?;
                let value = r.string().map_err(bad)?;
                if &name[..] == MC_AUX {
                    mc =
                        Some(parse_mc(&value).ok_or_else(|| fail(start, None, "bad Memcached item aux field".into()))?);
                }
            }
            opcode::FUNCTION2 => {
                let code = r.string().map_err(bad)?;
                shared
                    .scripting
                    .functions
                    .load(&code, false)
                    .map_err(|e| fail(start, None, format!("function library refused: {e}")))?;
            }
            opcode::FUNCTION => {
                return Err(fail(start, None, "pre-GA function format (opcode 246) is not supported".into()));
            }
            opcode::MODULE_AUX => {
                return Err(fail(start, None, "module aux data (opcode 247): modules are not supported".into()));
            }
            opcode::EOF => break,
            ty => {
                let key = r.string().map_err(bad)?;
                let value = rdb::decode_value(ty, &mut r).map_err(|e| {
                    let what = match e {
                        rdb::Error::UnknownType(t) => format!("unknown or unsupported value type {t}"),
                        e => format!("bad value: {}", describe(&e)),
                    };
                    fail(start, Some(&key), what)
                })?;
                let mut e = Entry::expiring(value, std::mem::take(&mut expire_at));
                let stamp = crate::commands::object::restored_stamp(policy, freq.take(), idle.take(), clock_ms);
                if let Some((flags, cas, meta)) = mc.take() {
                    e.set_flags(flags);
                    e.set_cas(cas);
                    e.set_meta(meta);
                    max_cas = max_cas.max(cas);
                }
                if !e.live(now) {
                    loaded.expired += 1;
                    continue;
                }
                let fresh = db.update(dbi, &key, now, |c| {
                    let fresh = c.get().is_none();
                    if fresh {
                        c.put_keep_cas(e);
                    }
                    fresh
                });
                if !fresh {
                    return Err(fail(start, Some(&key), format!("duplicate key in database {dbi}")));
                }
                if let Some(stamp) = stamp {
                    db.set_access_stamp(dbi, &key, stamp);
                }
                loaded.keys += 1;
            }
        }
    }
    let end = at(&r);
    if version >= 5 {
        let stored = r.take(8).map_err(|_| fail(end, None, "truncated checksum after the EOF marker".into()))?;
        let stored = u64::from_le_bytes(stored.try_into().expect("8 bytes"));
        if checksum && stored != 0 && stored != crc64(0, &b[..end]) {
            return Err(fail(end, None, "CRC-64 checksum mismatch (the file is corrupted)".into()));
        }
    }
    db.note_cas(max_cas);
    Ok(loaded)
}

fn describe(e: &rdb::Error) -> String {
    match e {
        rdb::Error::Truncated => "the file ends inside this record (truncated)".into(),
        e => e.to_string(),
    }
}

/// `"<flags> <cas> <meta>"`.
fn parse_mc(v: &[u8]) -> Option<(u32, u64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let mut w = s.split(' ');
    let item = (w.next()?.parse().ok()?, w.next()?.parse().ok()?, w.next()?.parse().ok()?);
    w.next().is_none().then_some(item)
}
