//! Writing a whole RDB file (version 10, as Redis 7.0's `rdbSaveRio`) from a snapshot, crash-safe:
//! a temp file in the target directory, fsync, rename over the target, fsync of the directory. A
//! crash at any point leaves either the old file or the new one, never a torn one.
//!
//! Layout: `REDIS0010`, aux fields (`redis-ver`, `redis-bits`, `ctime`, `used-mem`, `aof-base`),
//! then per database `SELECTDB`, `RESIZEDB`, and per key an optional `EXPIRETIME_MS`, the type
//! byte, the key and the value body ([`super::rdb::encode_value`], the DUMP encoder), then `EOF`
//! and the CRC-64 of everything before it (zeros when `rdbchecksum no`, as Redis writes).
//! Keys already expired are left out. A key's `IDLE` or `FREQ` record ([`Usage`], chosen by the
//! policy in `save.rs`) comes right before its type byte, after its expire time, as Redis writes.

use super::rdb::{self, Options, crc64, io::put_len, io::put_string};
use crate::db::{Entry, Key};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// `RDB_OPCODE_*` (rdb.h).
pub mod opcode {
    /// Function library (Redis 7.0).
    pub const FUNCTION2: u8 = 245;
    /// Function library (7.0 release candidates).
    pub const FUNCTION: u8 = 246;
    /// Module aux data.
    pub const MODULE_AUX: u8 = 247;
    /// LRU idle time of the next key.
    pub const IDLE: u8 = 248;
    /// LFU counter of the next key.
    pub const FREQ: u8 = 249;
    /// Aux field (name, value).
    pub const AUX: u8 = 250;
    /// Hash table sizes of the current database.
    pub const RESIZEDB: u8 = 251;
    /// Expire time of the next key, unix ms.
    pub const EXPIRETIME_MS: u8 = 252;
    /// Expire time of the next key, unix seconds (old files).
    pub const EXPIRETIME: u8 = 253;
    /// Database selector.
    pub const SELECTDB: u8 = 254;
    /// End of file.
    pub const EOF: u8 = 255;
}

/// The aux field that carries a Memcached item's flags, CAS unique and meta bits, written just
/// before the item's key record (value: `"<flags> <cas> <meta>"` in decimal).
pub const MC_AUX: &[u8] = b"cache-server-mc";

/// A key's access clock as a snapshot records it (`RDB_OPCODE_IDLE` / `RDB_OPCODE_FREQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// No record (policies that are neither LRU nor LFU).
    None,
    /// Seconds since the last access (LRU policies; the 24-bit clock bounds it, and `u32` keeps
    /// the snapshot's tuple at 80 bytes).
    Idle(u32),
    /// The LFU counter (LFU policies).
    Freq(u8),
}

/// What a write needs besides the entries.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Unix ms: the `ctime` aux field, and entries expired by then are left out.
    pub now_ms: u64,
    /// The `used-mem` aux field.
    pub used_mem: u64,
    /// `rdbcompression`.
    pub compress: bool,
    /// `rdbchecksum`.
    pub checksum: bool,
}

/// Function libraries to write before the keys: `FUNCTION2` records as FUNCTION DUMP's payload
/// holds them (footer removed).
pub fn functions_body(dump: &[u8]) -> Vec<u8> {
    rdb::open_payload(dump).map(<[u8]>::to_vec).unwrap_or_default()
}

/// What a write produced.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    /// Keys written.
    pub keys: u64,
    /// File size in bytes.
    pub bytes: u64,
}

/// A buffered file writer that keeps the running CRC-64 of what it wrote.
struct Sink {
    out: BufWriter<File>,
    crc: u64,
    bytes: u64,
    checksum: bool,
}

impl Sink {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64(self.crc, b);
        }
        self.bytes += b.len() as u64;
        self.out.write_all(b)
    }
}

fn aux(buf: &mut Vec<u8>, name: &[u8], value: &[u8], opts: Options) {
    buf.push(opcode::AUX);
    put_string(buf, name, opts);
    put_string(buf, value, opts);
}

/// Writes `entries` (any order) as the RDB file `path`, crash-safe (see the module docs).
///
/// # Errors
/// Any I/O error (the temp file is removed), or a value the encoder refuses.
pub fn write(path: &Path, entries: Vec<(Key, Entry, Usage)>, functions: &[u8], meta: Meta) -> io::Result<Written> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let temp = dir.join(format!("temp-{}-{}.rdb", std::process::id(), SEQ.fetch_add(1, Relaxed)));
    let result = write_temp(&temp, entries, functions, meta).and_then(|w| {
        std::fs::rename(&temp, path)?;
        File::open(&dir)?.sync_all()?;
        Ok(w)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn write_temp(temp: &Path, mut entries: Vec<(Key, Entry, Usage)>, functions: &[u8], meta: Meta) -> io::Result<Written> {
    let file = File::create(temp)?;
    let mut sink = Sink { out: BufWriter::with_capacity(1 << 20, file), crc: 0, bytes: 0, checksum: meta.checksum };
    let opts = Options { compress: meta.compress };
    entries.retain(|(_, e, _)| e.live(meta.now_ms));
    // Grouped by database; the common single-database case skips the sort.
    let first = entries.first().map_or(0, |(k, _, _)| k.db());
    if entries.iter().any(|(k, _, _)| k.db() != first) {
        entries.sort_by_key(|(k, _, _)| k.db());
    }
    let mut buf = Vec::with_capacity(4096);
    buf.extend_from_slice(format!("REDIS{:04}", rdb::RDB_VERSION).as_bytes());
    aux(&mut buf, b"redis-ver", crate::REDIS_VERSION.as_bytes(), opts);
    aux(&mut buf, b"redis-bits", b"64", opts);
    aux(&mut buf, b"ctime", (meta.now_ms / 1000).to_string().as_bytes(), opts);
    aux(&mut buf, b"used-mem", meta.used_mem.to_string().as_bytes(), opts);
    aux(&mut buf, b"aof-base", b"0", opts);
    buf.extend_from_slice(functions);
    sink.put(&buf)?;
    let keys = entries.len() as u64;
    // Runs of keys of one database (the entries are grouped), for SELECTDB and RESIZEDB.
    let mut runs: Vec<(u32, usize, usize)> = Vec::new();
    for (k, e, _) in &entries {
        let ttl = usize::from(e.expire_at != 0);
        match runs.last_mut() {
            Some((db, n, t)) if *db == k.db() => (*n, *t) = (*n + 1, *t + ttl),
            _ => runs.push((k.db(), 1, ttl)),
        }
    }
    let mut entries = entries.into_iter();
    for (db, size, expires) in runs {
        buf.clear();
        buf.push(opcode::SELECTDB);
        put_len(&mut buf, u64::from(db));
        buf.push(opcode::RESIZEDB);
        put_len(&mut buf, size as u64);
        put_len(&mut buf, expires as u64);
        sink.put(&buf)?;
        // Consumed as written: each value's last reference (if the keyspace dropped it meanwhile)
        // goes as soon as it is on its way to the disk.
        for (k, e, usage) in entries.by_ref().take(size) {
            buf.clear();
            record(&mut buf, &k, &e, usage, opts)?;
            sink.put(&buf)?;
        }
    }
    sink.put(&[opcode::EOF])?;
    let crc = if meta.checksum { sink.crc } else { 0 };
    sink.out.write_all(&crc.to_le_bytes())?;
    let bytes = sink.bytes + 8;
    let file = sink.out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    Ok(Written { keys, bytes })
}

/// One key's records: its Memcached aux field if it has one, its expire time, its access clock,
/// type, key, body.
fn record(buf: &mut Vec<u8>, k: &Key, e: &Entry, usage: Usage, opts: Options) -> io::Result<()> {
    let (flags, cas, meta) = (e.flags(), e.cas(), e.meta());
    if flags != 0 || cas != 0 || meta != 0 {
        aux(buf, MC_AUX, format!("{flags} {cas} {meta}").as_bytes(), opts);
    }
    if e.expire_at != 0 {
        buf.push(opcode::EXPIRETIME_MS);
        buf.extend_from_slice(&e.expire_at.to_le_bytes());
    }
    match usage {
        Usage::None => {}
        Usage::Idle(secs) => {
            buf.push(opcode::IDLE);
            put_len(buf, u64::from(secs));
        }
        Usage::Freq(counter) => buf.extend_from_slice(&[opcode::FREQ, counter]),
    }
    let encode = |buf: &mut Vec<u8>| -> Result<(), rdb::Error> {
        buf.push(rdb::object_type(&e.value)?);
        put_string(buf, k.key(), opts);
        rdb::encode_value(&e.value, opts, buf)
    };
    encode(buf).map_err(|err| io::Error::other(format!("key {:?}: {err}", String::from_utf8_lossy(k.key()))))
}
