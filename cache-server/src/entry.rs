//! What one cached key costs: the compact key, string and entry types stored in the core's slab
//! node. It owns the byte layout only; keyspace operations live in [`crate::db`].
//!
//! A string key of a few bytes with a short value lives entirely inside the core's node, with no
//! heap allocation (like Redis's `embstr`):
//!
//! ```text
//!   Key   (24 B) ── Inline: len + [varint db | key bytes] up to 22 B   │ Heap: Box<[u8]> same bytes
//!   Entry (48 B) ── value: Value (40 B) ── Str ── Inline: len + 38 B
//!                │                       │      ├─ Heap: Arc<[u8]>      (written whole: SET)
//!                │                       │      ├─ Grow: Arc<Vec<u8>>   (grown in place: APPEND)
//!                │                       │      └─ Memo: Arc<(Memcached flags, CAS, meta; Str)>
//!                │                       └─ Hash | List | Set | ZSet | Stream (Arc<…>)
//!                └─ expire_at: u64 (unix ms, 0 = never)
//! ```
//!
//! Memcached's flags, CAS unique and meta bits cost nothing on entries that never had them: only a
//! string with one of them set takes the `Memo` form (one shared allocation). Hashes never carry
//! them (Memcached cannot see a hash).
//!
//! The key's bytes are the database index as a LEB128 varint followed by the key, so `(db, key)`
//! pairs map one-to-one onto byte strings and the cache can be probed with a borrowed `[u8]`.
//! Values are shared (`Arc`) once they leave the node, so the core's clone-on-read stays a copy of
//! at most 40 bytes or one reference-count increment.
//!
//! Writes change values in place ([`crate::db::Current::modify`]) with `Arc::make_mut` semantics: a
//! value nobody else holds is mutated where it lies, one that a reader still shares (a GET copying
//! it into its reply, an HGETALL walking it) is copied first. A string that APPEND, SETRANGE or
//! Memcached's append/prepend grows past [`INLINE_STR`] becomes the `Grow` form, a `Vec` with
//! Redis-like slack (see [`grown_capacity`]), so building a string by appends costs amortised O(1)
//! per byte. A growable string weighs its capacity, not its length: the slack is real memory, and
//! MEMORY USAGE / `maxmemory` count it as Redis counts an sds string's free space. The first such
//! write to a string stored whole by SET copies it once into the `Grow` form (~100 ms at 128 MiB;
//! Redis's realloc usually grows its block in place); every later write costs what it changes.

use crate::types::list::List;
use crate::types::set::Set;
use crate::types::stream::Stream;
use crate::types::zset::ZSet;
use bytes::Bytes;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// Encoded keys up to this many bytes (varint db + key) are stored inside the node.
pub const INLINE_KEY: usize = 22;
/// Strings up to this many bytes are stored inside the node.
pub const INLINE_STR: usize = 38;
/// Set in an inline string's length byte once APPEND or SETRANGE wrote it in place (Redis then
/// holds a `raw` string, whatever its length: OBJECT ENCODING reports it).
const WRITTEN: u8 = 0x80;
/// Bytes charged per hash field on top of field and value bytes.
pub const FIELD_OVERHEAD: u64 = 80;
/// Hashes up to this many fields keep insertion order like Redis's listpack encoding.
const HASH_INDEX_THRESHOLD: usize = 128;
/// Below this a growable string doubles its capacity; above it, it grows by an eighth.
const GROW_DOUBLING_LIMIT: usize = 1 << 20;
/// Longest varint of a `u32`.
const MAX_VARINT: usize = 5;

fn put_varint(mut v: u32, out: &mut [u8]) -> usize {
    let mut i = 0;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out[i] = b;
            return i + 1;
        }
        out[i] = b | 0x80;
        i += 1;
    }
}

fn get_varint(b: &[u8]) -> (u32, usize) {
    let mut v = 0u32;
    for (i, &byte) in b.iter().enumerate().take(MAX_VARINT) {
        v |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    (v, b.len())
}

/// Heap bytes an entry holds beyond its payload: a key or string too long for the node takes an
/// allocation (a 16 B `Arc` header for strings, and glibc's 8 B chunk header rounded to 16 B);
/// Memcached flags and CAS take an 80 B chunk (see [`Entry::flags`]).
pub fn heap_overhead(key_len: usize, value: &Value) -> u64 {
    let key = if key_len + 1 > INLINE_KEY { 16 } else { 0 };
    let value = match value {
        Value::Str(Str(StrRepr::Inline { .. })) => 0,
        Value::Hash(_) | Value::List(_) | Value::Set(_) | Value::ZSet(_) | Value::Stream(_) => 0,
        Value::Str(s @ Str(StrRepr::Heap(_) | StrRepr::Grow(_))) => s.heap_overhead(),
        Value::Str(Str(StrRepr::Memo(m))) => 80 + m.1.heap_overhead(),
    };
    key + value
}

/// The capacity a growable string takes when it must hold `needed` bytes: twice that while small
/// (like `Vec`), then an eighth more but at least 1 MiB (Redis's sds adds 1 MiB). Appends thus copy
/// each byte a bounded number of times on average, and a large string's slack stays under 1/8.
pub fn grown_capacity(needed: usize) -> usize {
    if needed <= GROW_DOUBLING_LIMIT {
        needed.saturating_mul(2)
    } else {
        needed.saturating_add((needed / 8).max(GROW_DOUBLING_LIMIT))
    }
}

/// Runs `f` on the encoded form of `(db, key)` built on the stack when short (for lookups).
pub fn with_encoded<R>(db: u32, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut stack = [0u8; 64];
    if key.len() + MAX_VARINT <= stack.len() {
        let n = put_varint(db, &mut stack);
        stack[n..n + key.len()].copy_from_slice(key);
        f(&stack[..n + key.len()])
    } else {
        let mut v = vec![0u8; MAX_VARINT + key.len()];
        let n = put_varint(db, &mut v);
        v.truncate(n);
        v.extend_from_slice(key);
        f(&v)
    }
}

#[derive(Clone)]
enum KeyRepr {
    Inline { len: u8, buf: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

/// A key in a given database: `varint(db) ++ key` bytes, inline when short.
#[derive(Clone)]
pub struct Key(KeyRepr);

impl Key {
    /// The key `key` of database `db`.
    pub fn new(db: u32, key: &[u8]) -> Self {
        with_encoded(db, key, Self::from_encoded)
    }

    fn from_encoded(enc: &[u8]) -> Self {
        if enc.len() <= INLINE_KEY {
            let mut buf = [0u8; INLINE_KEY];
            buf[..enc.len()].copy_from_slice(enc);
            Self(KeyRepr::Inline { len: enc.len() as u8, buf })
        } else {
            Self(KeyRepr::Heap(enc.into()))
        }
    }

    /// The encoded bytes (what the cache hashes and compares).
    pub fn encoded(&self) -> &[u8] {
        match &self.0 {
            KeyRepr::Inline { len, buf } => &buf[..usize::from(*len)],
            KeyRepr::Heap(b) => b,
        }
    }

    /// The database index.
    pub fn db(&self) -> u32 {
        get_varint(self.encoded()).0
    }

    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        let enc = self.encoded();
        &enc[get_varint(enc).1..]
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.encoded()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.encoded().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.encoded() == other.encoded()
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("db", &self.db()).field("key", &Bytes::copy_from_slice(self.key())).finish()
    }
}

#[derive(Clone)]
enum StrRepr {
    Inline {
        len: u8,
        buf: [u8; INLINE_STR],
    },
    Heap(Arc<[u8]>),
    /// A string grown in place: `capacity - len` bytes of slack for the next append.
    Grow(Arc<Vec<u8>>),
    /// Never nested: the inner string is `Inline`, `Heap` or `Grow`.
    Memo(Arc<(Memo, Str)>),
}

/// A binary-safe string value: inline up to [`INLINE_STR`] bytes, else one shared allocation (a
/// growable one once written in place).
#[derive(Clone)]
pub struct Str(StrRepr);

impl Str {
    /// The empty string.
    pub const fn empty() -> Self {
        Self(StrRepr::Inline { len: 0, buf: [0; INLINE_STR] })
    }

    /// A copy of `b`.
    pub fn new(b: &[u8]) -> Self {
        if b.len() <= INLINE_STR {
            let mut buf = [0u8; INLINE_STR];
            buf[..b.len()].copy_from_slice(b);
            Self(StrRepr::Inline { len: b.len() as u8, buf })
        } else {
            Self(StrRepr::Heap(b.into()))
        }
    }

    /// OBJECT ENCODING as Redis reports it: `raw` for a string written in place (APPEND,
    /// SETRANGE) or longer than 44 bytes, `int` for a canonical 64-bit integer, else `embstr`.
    pub fn encoding(&self) -> &'static str {
        let written = |r: &StrRepr| match r {
            StrRepr::Grow(_) => true,
            StrRepr::Inline { len, .. } => len & WRITTEN != 0,
            _ => false,
        };
        let written = match &self.0 {
            StrRepr::Memo(m) => written(&m.1.0),
            r => written(r),
        };
        if written || self.len() > 44 {
            "raw"
        } else if crate::frame::parse_i64(self).is_some() {
            "int"
        } else {
            "embstr"
        }
    }

    /// Heap bytes beyond the payload, for a plain (not `Memo`) string: a `Heap` string's 16 B
    /// `Arc` header and chunk rounding; a `Grow` string's `Arc<Vec>` chunk (48 B), its buffer's
    /// chunk header (16 B) and its unused capacity.
    fn heap_overhead(&self) -> u64 {
        match &self.0 {
            StrRepr::Inline { .. } => 0,
            StrRepr::Heap(_) => 32,
            StrRepr::Grow(v) => 64 + (v.capacity() - v.len()) as u64,
            StrRepr::Memo(m) => 80 + m.1.heap_overhead(),
        }
    }

    /// Appends `tail` in place (amortised O(len(tail)); copies only a shared string).
    pub fn append(&mut self, tail: &[u8]) {
        let at = self.len();
        self.splice(at, tail, false);
    }

    /// Inserts `head` at the front (Memcached's prepend; moves the existing bytes, copies them
    /// only if shared).
    pub fn prepend(&mut self, head: &[u8]) {
        self.splice(0, head, true);
    }

    /// Overwrites the bytes from `offset` with `val`, zero-padding up to `offset` (SETRANGE).
    pub fn set_range(&mut self, offset: usize, val: &[u8]) {
        self.splice(offset, val, false);
    }

    /// Writes `val` at `at`, inserting it there (`insert`) or overwriting from there, growing the
    /// string as needed. A result that fits [`INLINE_STR`] stays inline; otherwise the bytes move
    /// to the `Grow` form once (with slack) and later writes reuse it in place, copying only when
    /// another holder shares it.
    fn splice(&mut self, at: usize, val: &[u8], insert: bool) {
        if let StrRepr::Memo(m) = &mut self.0 {
            return Arc::make_mut(m).1.splice(at, val, insert);
        }
        let len = self.len();
        let new_len = if insert { len + val.len() } else { len.max(at + val.len()) };
        if let StrRepr::Inline { len: l, buf } = &mut self.0
            && new_len <= INLINE_STR
        {
            let len = usize::from(*l & !WRITTEN);
            if insert {
                buf.copy_within(at..len, at + val.len());
            } else if at > len {
                buf[len..at].fill(0);
            }
            buf[at..at + val.len()].copy_from_slice(val);
            *l = new_len as u8 | WRITTEN;
            return;
        }
        if !matches!(self.0, StrRepr::Grow(_)) {
            let mut v = Vec::with_capacity(grown_capacity(new_len));
            v.extend_from_slice(self);
            self.0 = StrRepr::Grow(Arc::new(v));
        }
        let StrRepr::Grow(shared) = &mut self.0 else { unreachable!("converted above") };
        let v = Arc::make_mut(shared);
        if new_len > v.capacity() {
            v.reserve_exact(grown_capacity(new_len) - v.len());
        }
        if insert {
            v.splice(at..at, val.iter().copied());
        } else {
            if v.len() < at + val.len() {
                v.resize(at + val.len(), 0);
            }
            v[at..at + val.len()].copy_from_slice(val);
        }
    }

    /// A `Bytes` copy (for replies that keep the value past the entry).
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }

    fn memo(&self) -> Memo {
        match &self.0 {
            StrRepr::Memo(m) => m.0.clone(),
            _ => Memo::default(),
        }
    }

    /// The same bytes with `memo` (the plain form when it is all zero).
    fn with_memo(&self, memo: Memo) -> Self {
        let plain = match &self.0 {
            StrRepr::Memo(m) => m.1.clone(),
            _ => self.clone(),
        };
        if memo == Memo::default() { plain } else { Self(StrRepr::Memo(Arc::new((memo, plain)))) }
    }
}

impl Deref for Str {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            StrRepr::Inline { len, buf } => &buf[..usize::from(*len & !WRITTEN)],
            StrRepr::Heap(b) => b,
            StrRepr::Grow(v) => v,
            StrRepr::Memo(m) => &m.1,
        }
    }
}

impl Default for Str {
    fn default() -> Self {
        Self::empty()
    }
}

impl AsRef<[u8]> for Str {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for Str {
    fn from(b: &[u8]) -> Self {
        Self::new(b)
    }
}

impl From<Vec<u8>> for Str {
    fn from(v: Vec<u8>) -> Self {
        Self::new(&v)
    }
}

impl From<&Bytes> for Str {
    fn from(b: &Bytes) -> Self {
        Self::new(b)
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Str {}

impl PartialEq<[u8]> for Str {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self), f)
    }
}

/// A Redis value.
#[derive(Debug, Clone)]
pub enum Value {
    /// A binary-safe string.
    Str(Str),
    /// A hash; `Arc` keeps the cache's clone-on-read cheap, writes use `Arc::make_mut`.
    Hash(Arc<HashValue>),
    /// A list (shared and written like a hash).
    List(Arc<List>),
    /// A set.
    Set(Arc<Set>),
    /// A sorted set.
    ZSet(Arc<ZSet>),
    /// A stream.
    Stream(Arc<Stream>),
}

impl Value {
    /// A string value copied from `b`.
    pub fn str(b: &[u8]) -> Self {
        Value::Str(Str::new(b))
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&Str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The TYPE name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// OBJECT ENCODING: the encoding Redis 7.0 would use for this value at the thresholds in
    /// force (see [`crate::types`]).
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => {
                if h.big {
                    "hashtable"
                } else {
                    "listpack"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(x) => x.encoding(),
        }
    }

    /// Bytes of payload (for the weigher and MEMORY USAGE).
    pub fn weight(&self) -> u64 {
        match self {
            Value::Str(b) => b.len() as u64,
            Value::Hash(h) => h.bytes + h.len() as u64 * FIELD_OVERHEAD,
            Value::List(l) => l.weight(),
            Value::Set(s) => s.weight(),
            Value::ZSet(z) => z.weight(),
            Value::Stream(x) => x.weight(),
        }
    }
}

/// Memcached state of an entry, boxed because RESP-only entries never carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Memo {
    cas: u64,
    flags: u32,
    /// Memcached per-item state (bits and last-access time, see `memcache/item.rs`): 4 bytes
    /// that fit the padding after `flags`, so the `Memo` form stays one 80 B chunk.
    meta: u32,
}

/// A stored value with its absolute expiry and, when Memcached touched it, its flags and CAS.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value. Assigning it drops Memcached flags and CAS; [`Entry::set_value`] keeps them.
    pub value: Value,
    /// Unix time in milliseconds at which the key expires; 0 = never.
    pub expire_at: u64,
}

impl Entry {
    /// A value without expiry.
    pub fn new(value: Value) -> Self {
        Self::expiring(value, 0)
    }

    /// A value expiring at `expire_at` (unix ms, 0 = never), flags 0.
    pub fn expiring(value: Value, expire_at: u64) -> Self {
        Self { value, expire_at }
    }

    /// Replaces the value, keeping flags, CAS unique and meta bits when both are strings.
    pub fn set_value(&mut self, value: Value) {
        let memo = self.memo();
        self.value = value;
        self.set_memo(memo);
    }

    pub(crate) fn live(&self, now: u64) -> bool {
        self.expire_at == 0 || self.expire_at > now
    }

    fn memo(&self) -> Memo {
        match &self.value {
            Value::Str(s) => s.memo(),
            _ => Memo::default(),
        }
    }

    /// Stores `memo` with a string value (a hash cannot carry one: Memcached never sees it).
    fn set_memo(&mut self, memo: Memo) {
        if let Value::Str(s) = &self.value {
            if s.memo() != memo {
                self.value = Value::Str(s.with_memo(memo));
            }
        }
    }

    fn with_memo(&mut self, f: impl FnOnce(&mut Memo)) {
        let mut m = self.memo();
        f(&mut m);
        self.set_memo(m);
    }

    /// Memcached client flags (opaque to the server); RESP writes store 0.
    pub fn flags(&self) -> u32 {
        self.memo().flags
    }

    /// Sets the client flags.
    pub fn set_flags(&mut self, flags: u32) {
        self.with_memo(|m| m.flags = flags);
    }

    /// Memcached CAS unique: 0 until a Memcached write or read assigns one (see
    /// [`crate::db::Current::put_mc`]); a RESP write clears it, which invalidates a `gets` token.
    pub fn cas(&self) -> u64 {
        self.memo().cas
    }

    /// Sets the CAS unique.
    pub fn set_cas(&mut self, cas: u64) {
        self.with_memo(|m| m.cas = cas);
    }

    /// Memcached per-item state: stale, win token sent, fetched, base64 key, last access time
    /// (the layout is `memcache/item.rs`'s; opaque here).
    pub fn meta(&self) -> u32 {
        self.memo().meta
    }

    /// Sets the meta bits.
    pub fn set_meta(&mut self, meta: u32) {
        self.with_memo(|m| m.meta = meta);
    }
}

/// A hash: insertion-ordered fields (like Redis's small-hash encoding) plus an index once large.
#[derive(Debug, Clone, Default)]
pub struct HashValue {
    entries: Vec<(Bytes, Bytes)>,
    index: Option<HashMap<Bytes, usize, ahash::RandomState>>,
    /// Sum of field and value lengths.
    bytes: u64,
    /// Redis would hold it in a hashtable by now (it outgrew `hash-max-listpack-*` once; never
    /// converts back).
    big: bool,
}

impl HashValue {
    fn pos(&self, f: &[u8]) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(f).copied(),
            None => self.entries.iter().position(|(k, _)| k == f),
        }
    }

    /// The value of a field.
    pub fn get(&self, f: &[u8]) -> Option<&Bytes> {
        self.pos(f).map(|i| &self.entries[i].1)
    }

    /// Sets a field; true if it is new.
    pub fn insert(&mut self, f: &[u8], v: Bytes) -> bool {
        let (entries, value) = crate::types::hash_listpack_limits();
        self.big |= f.len() > value || v.len() > value;
        if let Some(i) = self.pos(f) {
            self.bytes = self.bytes - self.entries[i].1.len() as u64 + v.len() as u64;
            self.entries[i].1 = v;
            return false;
        }
        let f = Bytes::copy_from_slice(f);
        self.bytes += (f.len() + v.len()) as u64;
        if let Some(ix) = &mut self.index {
            ix.insert(f.clone(), self.entries.len());
        }
        self.entries.push((f, v));
        self.big |= self.entries.len() > entries;
        if self.index.is_none() && self.entries.len() > HASH_INDEX_THRESHOLD {
            self.index = Some(self.entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect());
        }
        true
    }

    /// Removes a field; true if it existed.
    pub fn remove(&mut self, f: &[u8]) -> bool {
        let Some(i) = self.pos(f) else { return false };
        let (k, v) = if let Some(ix) = &mut self.index {
            ix.remove(f);
            let last = self.entries.len() - 1;
            if i != last {
                ix.insert(self.entries[last].0.clone(), i);
            }
            self.entries.swap_remove(i)
        } else {
            self.entries.remove(i)
        };
        self.bytes -= (k.len() + v.len()) as u64;
        true
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Fields and values in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &(Bytes, Bytes)> {
        self.entries.iter()
    }

    /// The field and value at position `i` (`i < len`) of [`HashValue::iter`]'s order.
    pub fn nth(&self, i: usize) -> &(Bytes, Bytes) {
        &self.entries[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_stays_compact() {
        assert_eq!(size_of::<Key>(), 24);
        assert_eq!(size_of::<Value>(), 40);
        assert_eq!(size_of::<Entry>(), 48);
    }

    #[test]
    fn keys_round_trip_and_hash_like_their_encoding() {
        let s = ahash::RandomState::new();
        for (db, key) in [(0u32, &b"k"[..]), (15, b""), (200, &[7u8; 21][..]), (u32::MAX, &[1u8; 100][..])] {
            let k = Key::new(db, key);
            assert_eq!((k.db(), k.key()), (db, key));
            with_encoded(db, key, |enc| {
                assert_eq!(enc, k.encoded());
                assert_eq!(s.hash_one(enc), s.hash_one(&k));
            });
        }
        assert_ne!(Key::new(1, b"a"), Key::new(0, b"\x01a"));
    }

    #[test]
    fn heap_overhead_counts_only_what_leaves_the_node() {
        assert_eq!(heap_overhead(16, &Value::str(&[0; INLINE_STR])), 0);
        assert_eq!(heap_overhead(INLINE_KEY, &Value::str(&[0; INLINE_STR + 1])), 16 + 32);
        let mut e = Entry::new(Value::str(b"v"));
        e.set_flags(1);
        assert_eq!(heap_overhead(1, &e.value), 80);
    }

    #[test]
    fn strings_inline_then_shared() {
        for n in [0, 1, INLINE_STR, INLINE_STR + 1, 4096] {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let s = Str::new(&v);
            assert_eq!(&*s, &v[..]);
            assert_eq!(&*s.clone(), &v[..]);
        }
    }

    /// Counts copies instead of timing: building 32 MiB by 64 KiB appends moves the bytes a bounded
    /// number of times in total (the old code copied the whole string on every append: ~16 GiB),
    /// and a write copies a string only while a reader shares it.
    #[test]
    fn appends_copy_a_bounded_number_of_times_and_only_when_shared() {
        let chunk = [7u8; 64 << 10];
        let mut s = Str::empty();
        let (mut copied, mut cap, mut grows) = (0usize, 0usize, 0);
        while s.len() < 32 << 20 {
            let before = s.len();
            s.append(&chunk);
            let now_cap = match &s.0 {
                StrRepr::Grow(v) => v.capacity(),
                _ => s.len(),
            };
            if now_cap != cap {
                (copied, cap, grows) = (copied + before, now_cap, grows + 1);
            }
        }
        assert_eq!(s.len(), 32 << 20);
        assert!(copied <= 8 * s.len(), "{copied} bytes copied for {} appended", s.len());
        assert!(grows < 64, "{grows} reallocations");
        let overhead = s.heap_overhead();
        assert!(overhead <= 64 + (4 << 20), "slack {overhead} beyond an eighth of 32 MiB");

        let p = s.as_ptr();
        s.append(b"x");
        assert_eq!(s.as_ptr(), p, "an unshared string is appended to in place");
        let reader = s.clone();
        s.append(b"y");
        assert_ne!(s.as_ptr(), p, "a shared string is copied before the write");
        assert_eq!((reader.len(), reader.as_ptr(), reader.last()), ((32 << 20) + 1, p, Some(&b'x')));
        drop(reader);
        let p = s.as_ptr();
        s.set_range(3, b"abc");
        assert_eq!((s.as_ptr(), &s[..6]), (p, &[7, 7, 7, b'a', b'b', b'c'][..]));
    }

    proptest::proptest! {
        /// Every in-place write equals the same edit on a `Vec`, across the inline, heap, growable
        /// and Memcached forms, and leaves a clone taken before it untouched.
        #[test]
        fn in_place_writes_match_a_vec(
            init in proptest::collection::vec(proptest::num::u8::ANY, 0..60),
            ops in proptest::collection::vec((0u8..3, 0usize..80, proptest::collection::vec(proptest::num::u8::ANY, 0..50)), 1..12),
            memo in proptest::bool::ANY,
        ) {
            let mut e = Entry::new(Value::str(&init));
            if memo {
                e.set_flags(3);
            }
            let mut model = init.clone();
            for (op, at, val) in ops {
                let before = e.clone();
                let frozen = model.clone();
                let Value::Str(s) = &mut e.value else { unreachable!() };
                match op {
                    0 => {
                        s.append(&val);
                        model.extend_from_slice(&val);
                    }
                    1 => {
                        s.prepend(&val);
                        model.splice(0..0, val.iter().copied());
                    }
                    _ => {
                        s.set_range(at, &val);
                        if model.len() < at + val.len() {
                            model.resize(at + val.len(), 0);
                        }
                        model[at..at + val.len()].copy_from_slice(&val);
                    }
                }
                proptest::prop_assert_eq!(&**s, &model[..]);
                proptest::prop_assert_eq!(&**before.value.as_str().unwrap(), &frozen[..]);
                proptest::prop_assert_eq!(e.flags(), if memo { 3 } else { 0 });
            }
        }
    }

    #[test]
    fn memo_is_allocated_only_when_set_and_survives_set_value() {
        let plain = |e: &Entry| matches!(&e.value, Value::Str(Str(StrRepr::Inline { .. })));
        let mut e = Entry::new(Value::str(b"v"));
        assert!(plain(&e));
        e.set_flags(5);
        e.set_cas(9);
        assert_eq!((e.flags(), e.cas(), e.meta()), (5, 9, 0));
        e.set_value(Value::str(b"w"));
        assert_eq!((&**e.value.as_str().unwrap(), e.flags(), e.cas()), (&b"w"[..], 5, 9));
        e.set_flags(0);
        e.set_cas(0);
        assert!(plain(&e));
        let mut h = Entry::new(Value::Hash(Arc::default()));
        h.set_cas(3);
        assert_eq!(h.cas(), 0);
    }

    #[test]
    fn hash_keeps_insertion_order_and_index_when_large() {
        let mut h = HashValue::default();
        for i in 0..300 {
            assert!(h.insert(format!("f{i}").as_bytes(), Bytes::from("v")));
        }
        assert!(!h.insert(b"f7", Bytes::from("w")));
        assert!(h.remove(b"f0") && !h.remove(b"f0"));
        assert_eq!(h.len(), 299);
        assert_eq!(h.get(b"f7").unwrap(), &Bytes::from("w"));
        assert_eq!(h.get(b"f299").unwrap(), &Bytes::from("v"));
    }
}
