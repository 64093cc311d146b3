//! Bitmap commands over strings: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.
//!
//! Bits are numbered from the most significant bit of the first byte, as in Redis. Writes
//! (SETBIT, BITFIELD) are computed against the stored bytes through a small overlay of changed
//! bytes (`View`), then applied in place with `Str::set_range`, so setting a bit costs O(1)
//! amortised and never copies the string; a write that changes nothing (same bit, same field
//! value, no growth) stores nothing and sends no event, as in Redis 7.0 (it only turns a string
//! SET whole into a `raw` one: see `unshare`). Offsets are bounded by `proto-max-bulk-len`
//! (512 MB of bits by default). BITCOUNT, BITPOS and BITOP over big strings run as long work (see
//! [`Ctx::long`]). BITFIELD's parsing and integer arithmetic live in `bitmaps/bitfield.rs`.

use super::{CmdError, CmdResult, CommandSpec, Ctx, LONG_WORK, SYNTAX, WRONGTYPE, arg_i64, is, spec};
use crate::db::{Current, Entry, Str, Value};
use crate::frame::parse_i64;
use crate::notify::Class;
use bytes::Bytes;
use std::collections::BTreeMap;

mod bitfield;

const G: &str = "bitmap";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "setbit",
        4,
        &["write", "denyoom"],
        (1, 1, 1),
        G,
        "Sets or clears the bit at offset in the string value stored at key",
        "2.2.0",
        setbit,
    ),
    spec(
        "getbit",
        3,
        &["readonly", "fast"],
        (1, 1, 1),
        G,
        "Returns the bit value at offset in the string value stored at key",
        "2.2.0",
        getbit,
    ),
    spec("bitcount", -2, &["readonly"], (1, 1, 1), G, "Count set bits in a string", "2.6.0", bitcount),
    spec("bitpos", -3, &["readonly"], (1, 1, 1), G, "Find first bit set or clear in a string", "2.8.7", bitpos),
    spec(
        "bitop",
        -4,
        &["write", "denyoom"],
        (2, -1, 1),
        G,
        "Perform bitwise operations between strings",
        "2.6.0",
        bitop,
    ),
    spec(
        "bitfield",
        -2,
        &["write", "denyoom"],
        (1, 1, 1),
        G,
        "Perform arbitrary bitfield integer operations on strings",
        "3.2.0",
        bitfield::bitfield,
    ),
    spec(
        "bitfield_ro",
        -2,
        &["readonly", "fast"],
        (1, 1, 1),
        G,
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        "6.0.0",
        bitfield::bitfield_ro,
    ),
];

/// A bit offset argument (Redis's `getBitOffsetFromArgument`): `#n` means `n * bits` where
/// `bits` is given (BITFIELD); the byte it falls in must be below `proto-max-bulk-len`.
fn offset_arg(ctx: &Ctx<'_>, a: &[u8], bits: Option<u32>) -> Result<u64, CmdError> {
    let hash = bits.filter(|_| a.first() == Some(&b'#'));
    let digits = if hash.is_some() { &a[1..] } else { a };
    let mut n = parse_i64(digits).ok_or(BAD_OFFSET)?;
    if let Some(b) = hash {
        n = n.wrapping_mul(i64::from(b));
    }
    let max = ctx.shared.config.read().proto_max_bulk_len;
    if n < 0 || (n as u64 >> 3) >= max {
        return Err(BAD_OFFSET.into());
    }
    Ok(n as u64)
}

/// The stored bytes seen through the bytes a command changed so far; bytes past the end read 0.
struct View<'a> {
    base: &'a [u8],
    patch: BTreeMap<usize, u8>,
}

impl<'a> View<'a> {
    fn new(base: &'a [u8]) -> Self {
        Self { base, patch: BTreeMap::new() }
    }

    fn byte(&self, i: usize) -> u8 {
        self.patch.get(&i).or_else(|| self.base.get(i)).copied().unwrap_or(0)
    }

    fn bit(&self, at: u64) -> u64 {
        u64::from(self.byte((at >> 3) as usize) >> (7 - (at & 7))) & 1
    }

    fn set_bit(&mut self, at: u64, on: u64) {
        let (i, shift) = ((at >> 3) as usize, 7 - (at & 7));
        let b = (self.byte(i) & !(1 << shift)) | ((on as u8 & 1) << shift);
        self.patch.insert(i, b);
    }

    /// `bits` bits from bit `at`, most significant first.
    fn get_unsigned(&self, at: u64, bits: u32) -> u64 {
        (0..u64::from(bits)).fold(0, |v, j| (v << 1) | self.bit(at + j))
    }

    fn get_signed(&self, at: u64, bits: u32) -> i64 {
        let v = self.get_unsigned(at, bits);
        if bits < 64 && v & (1 << (bits - 1)) != 0 { (v | (u64::MAX << bits)) as i64 } else { v as i64 }
    }

    fn set_unsigned(&mut self, at: u64, bits: u32, v: u64) {
        for j in 0..u64::from(bits) {
            self.set_bit(at + j, (v >> (u64::from(bits) - 1 - j)) & 1);
        }
    }
}

/// A string built by a command rather than sent whole (SETBIT, BITOP, PFADD): Redis holds it
/// `raw` whatever its length, and OBJECT ENCODING says so. Short ones take the form of a string
/// written in place; long ones are stored whole (raw either way).
pub(crate) fn raw_str(b: &[u8]) -> Str {
    if b.len() <= 64 {
        let mut s = Str::empty();
        s.set_range(0, b);
        s
    } else {
        Str::new(b)
    }
}

/// Redis turns a compact or shared string into a private `raw` one before a bit or HLL write
/// looks at it (`dbUnshareStringValue`), even when the command then changes nothing, and OBJECT
/// ENCODING shows it. The same here; unlike Redis, that first conversion counts as a write for
/// WATCH (it happens once per string, and only to strings SET whole).
pub(crate) fn unshare(cur: &mut Current<'_, '_>) {
    if let Some(Entry { value: Value::Str(s), .. }) = cur.get()
        && s.encoding() != "raw"
    {
        cur.modify(|e| {
            if let Value::Str(s) = &mut e.value {
                s.set_range(0, &[]);
            }
        });
    }
}

/// Writes a [`View`]'s changes: a new key of `len` zero bytes, or the stored string grown to
/// `len` bytes and changed in place.
fn apply(cur: &mut Current<'_, '_>, exists: bool, len: usize, patch: &BTreeMap<usize, u8>) {
    let write = |s: &mut Str| {
        if len > s.len() && !patch.contains_key(&(len - 1)) {
            s.set_range(len - 1, &[0]);
        }
        for (&i, &b) in patch {
            s.set_range(i, &[b]);
        }
    };
    if exists {
        cur.modify(|e| {
            if let Value::Str(s) = &mut e.value {
                write(s);
            }
        });
    } else {
        // Built in the growable form at once: zero-filled where it lies, never copied again by
        // the next bit write.
        let mut s = Str::empty();
        write(&mut s);
        cur.put(Entry::new(Value::Str(s)));
    }
}

/// Runs a bit write on `key` whose string must hold at least `need` bytes: `compute` sees the
/// stored bytes through a [`View`] and whether the string is created or grown, and returns its
/// answer and whether it changed the key (what Redis notifies); the changed bytes are then
/// written in place. No copy of the string is held meanwhile, so the write costs what it changes.
/// Zero-filling a string by megabytes runs as long work.
fn write_bits<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    need: usize,
    compute: impl Fn(&mut View<'_>, bool) -> (R, bool),
) -> Result<(R, bool), CmdError> {
    let attempt = |cur: &mut Current<'_, '_>, big: bool| {
        let (exists, len, answer, changed, grew, patch) = {
            let base: &[u8] = match cur.get() {
                None => &[],
                Some(Entry { value: Value::Str(s), .. }) => s,
                Some(_) => return Err(CmdError::from(WRONGTYPE)),
            };
            let exists = cur.get().is_some();
            let grow = if exists { need.saturating_sub(base.len()) } else { need };
            if grow / 64 >= LONG_WORK && !big {
                return Ok(None);
            }
            let mut view = View::new(base);
            let (answer, changed) = compute(&mut view, grow > 0);
            let mut patch = view.patch;
            patch.retain(|&i, b| base.get(i) != Some(b));
            (exists, base.len(), answer, changed, grow > 0, patch)
        };
        if changed || grew {
            apply(cur, exists, need.max(len), &patch);
        } else {
            unshare(cur);
        }
        Ok(Some((answer, changed)))
    };
    if let Some(done) = ctx.update(key, |cur| attempt(cur, false))? {
        return Ok(done);
    }
    let done = ctx.long(need / 64, |ctx| ctx.update(key, |cur| attempt(cur, true)))?;
    Ok(done.expect("a big write is allowed to run"))
}

fn setbit(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let at = offset_arg(ctx, &a[2], None)?;
    let on = parse_i64(&a[3]).ok_or(BAD_BIT)?;
    if on & !1 != 0 {
        return Err(BAD_BIT.into());
    }
    let need = (at >> 3) as usize + 1;
    let (old, changed) = write_bits(ctx, &a[1], need, |view, grew| {
        let old = view.bit(at);
        view.set_bit(at, on as u64);
        (old, grew || old != on as u64)
    })?;
    if changed {
        ctx.notify(Class::String, "setbit", &a[1]);
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let at = offset_arg(ctx, &a[2], None)?;
    let bit = ctx.get_str(&a[1])?.map_or(0, |s| View::new(&s).bit(at));
    ctx.out.int(bit as i64);
    Ok(())
}

fn popcount(b: &[u8]) -> u64 {
    let mut words = b.chunks_exact(8);
    let mut n: u64 =
        (&mut words).map(|w| u64::from(u64::from_ne_bytes(w.try_into().expect("8 bytes")).count_ones())).sum();
    n += words.remainder().iter().map(|b| u64::from(b.count_ones())).sum::<u64>();
    n
}

/// A range in bits `[first, last]` of a string of `len` bytes from BITCOUNT/BITPOS arguments
/// (`start`, `end`, BYTE or BIT unit), clamped as Redis clamps it; `None` if empty.
fn bit_range(len: usize, start: i64, end: i64, bit_unit: bool) -> Option<(u64, u64)> {
    let total = if bit_unit { len as i64 * 8 } else { len as i64 };
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if start > end {
        return None;
    }
    Some(if bit_unit { (start as u64, end as u64) } else { (start as u64 * 8, end as u64 * 8 + 7) })
}

fn unit_arg(a: &[u8]) -> Result<bool, CmdError> {
    if is(a, "bit") {
        Ok(true)
    } else if is(a, "byte") {
        Ok(false)
    } else {
        Err(SYNTAX.into())
    }
}

fn bitcount(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let Some(s) = ctx.get_str(&a[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let range = match a.len() {
        2 => bit_range(s.len(), 0, -1, false),
        4 | 5 => {
            let (start, end) = (arg_i64(&a[2])?, arg_i64(&a[3])?);
            // Redis answers a reversed negative range before it reads the unit.
            if start < 0 && end < 0 && start > end {
                None
            } else {
                bit_range(s.len(), start, end, a.len() == 5 && unit_arg(&a[4])?)
            }
        }
        _ => return Err(SYNTAX.into()),
    };
    let n = match range {
        None => 0,
        Some((first, last)) => ctx.long(s.len() / 64, |_| {
            let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
            let before = s[fb] & !(0xffu8 >> (first & 7));
            let after = s[lb] & (0x7fu8 >> (last & 7));
            popcount(&s[fb..=lb]) - u64::from(before.count_ones() + after.count_ones())
        }),
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// The first bit equal to `bit` in bits `[first, last]` of `s`.
fn find_bit(s: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let skip = if bit { 0x00 } else { 0xff };
    let mut at = first;
    while at <= last {
        let byte = (at >> 3) as usize;
        if at & 7 == 0 && at + 7 <= last {
            // A whole byte: skip runs of bytes without the bit.
            let run = s[byte..=(last >> 3) as usize].iter().position(|&b| b != skip);
            match run {
                Some(k) if (byte + k) as u64 * 8 + 7 <= last => {
                    let b = s[byte + k];
                    let lead = if bit { b.leading_zeros() } else { (!b).leading_zeros() };
                    return Some((byte + k) as u64 * 8 + u64::from(lead));
                }
                Some(k) => at = (byte + k) as u64 * 8,
                None => return None,
            }
            continue;
        }
        if (s[byte] >> (7 - (at & 7))) & 1 == u8::from(bit) {
            return Some(at);
        }
        at += 1;
    }
    None
}

fn bitpos(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let bit = arg_i64(&a[2])?;
    if bit != 0 && bit != 1 {
        return Err("ERR The bit argument must be 1 or 0.".into());
    }
    let Some(s) = ctx.get_str(&a[1])? else {
        ctx.out.int(if bit == 1 { -1 } else { 0 });
        return Ok(());
    };
    let (range, end_given) = match a.len() {
        3 => (bit_range(s.len(), 0, -1, false), false),
        4..=6 => {
            let start = arg_i64(&a[3])?;
            let bit_unit = a.len() == 6 && unit_arg(&a[5])?;
            let end = if a.len() >= 5 { arg_i64(&a[4])? } else { -1 };
            (bit_range(s.len(), start, end, bit_unit), a.len() >= 5)
        }
        _ => return Err(SYNTAX.into()),
    };
    let pos = match range {
        None => -1,
        Some((first, last)) => match ctx.long(s.len() / 64, |_| find_bit(&s, bit == 1, first, last)) {
            Some(p) => p as i64,
            // Past the string the bits are zero: without an explicit end, that is where a clear
            // bit is.
            None if bit == 0 && !end_given => last as i64 + 1,
            None => -1,
        },
    };
    ctx.out.int(pos);
    Ok(())
}

fn bitop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let op = &a[1];
    let op = ["and", "or", "xor", "not"].into_iter().position(|o| is(op, o)).ok_or(CmdError::from(SYNTAX))?;
    if op == 3 && a.len() != 4 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    let (dest, sources) = (&a[2], &a[3..]);
    let len = ctx.atomically(&a[2..], |ctx| {
        let mut strs = Vec::with_capacity(sources.len());
        for k in sources {
            strs.push(ctx.get_str(k)?.unwrap_or_default());
        }
        let max = strs.iter().map(|s| s.len()).max().unwrap_or(0);
        let total: usize = strs.iter().map(|s| s.len()).sum();
        if max == 0 {
            if ctx.remove(dest) {
                ctx.notify(Class::Generic, "del", dest);
            }
            return Ok::<_, CmdError>(0);
        }
        let out = ctx.long(total / 64, |_| {
            let mut out = strs[0].to_vec();
            out.resize(max, 0);
            if op == 3 {
                out.iter_mut().for_each(|b| *b = !*b);
            }
            for s in &strs[1..] {
                for (i, o) in out.iter_mut().enumerate() {
                    let b = s.get(i).copied().unwrap_or(0);
                    match op {
                        0 => *o &= b,
                        1 => *o |= b,
                        _ => *o ^= b,
                    }
                }
            }
            out
        });
        ctx.set(dest, Entry::new(Value::Str(raw_str(&out))));
        ctx.notify(Class::String, "set", dest);
        Ok(max)
    })?;
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{View, find_bit};
    use crate::commands::testutil::run_table;

    #[test]
    fn find_bit_in_ranges() {
        let s = [0x00, 0x0f, 0xff];
        assert_eq!(find_bit(&s, true, 0, 23), Some(12));
        assert_eq!(find_bit(&s, true, 13, 14), Some(13));
        assert_eq!(find_bit(&s, false, 12, 23), None);
        assert_eq!(find_bit(&s, false, 3, 23), Some(3));
        assert_eq!(find_bit(&s, true, 0, 11), None);
    }

    proptest::proptest! {
        /// Every field width reads back what was written, and writes nothing outside its bits.
        #[test]
        fn fields_round_trip(at in 0u64..200, bits in 1u32..=64, v: u64, fill: u8) {
            let base = vec![fill; 40];
            let mut view = View::new(&base);
            let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            view.set_unsigned(at, bits, v & mask);
            proptest::prop_assert_eq!(view.get_unsigned(at, bits), v & mask);
            let signed = view.get_signed(at, bits);
            proptest::prop_assert_eq!(signed as u64 & mask, v & mask);
            for bit in (0..at).chain(at + u64::from(bits)..at + u64::from(bits) + 16) {
                let want = if (bit >> 3) < 40 { u64::from(fill >> (7 - (bit & 7))) & 1 } else { 0 };
                proptest::prop_assert_eq!(view.bit(bit), want);
            }
        }
    }

    #[tokio::test]
    async fn bitmap_commands() {
        run_table(&[
            ("SETBIT k 7 1", ":0\r\n"),
            ("SETBIT k 7 1", ":1\r\n"),
            ("GET k", "$1\r\n\x01\r\n"),
            ("OBJECT ENCODING k", "$3\r\nraw\r\n"),
            ("SETBIT k 100 1", ":0\r\n"),
            ("STRLEN k", ":13\r\n"),
            ("GETBIT k 100", ":1\r\n"),
            ("GETBIT k 99999", ":0\r\n"),
            ("GETBIT nokey 1", ":0\r\n"),
            ("SETBIT k 4294967296 1", "-ERR bit offset is not an integer or out of range\r\n"),
            ("SETBIT k -1 1", "-ERR bit offset is not an integer or out of range\r\n"),
            ("SETBIT k 1 2", "-ERR bit is not an integer or out of range\r\n"),
            ("SET s foobar", "+OK\r\n"),
            ("BITCOUNT s", ":26\r\n"),
            ("BITCOUNT s 1 1", ":6\r\n"),
            ("BITCOUNT s 5 30 BIT", ":17\r\n"),
            ("BITCOUNT s -2 -1", ":7\r\n"),
            ("BITCOUNT s 0", "-ERR syntax error\r\n"),
            ("BITCOUNT nokey a b", ":0\r\n"),
            ("BITPOS s 0", ":0\r\n"),
            ("SET ones \"\\xff\\xff\"", "+OK\r\n"),
            ("BITPOS ones 0", ":16\r\n"),
            ("BITPOS ones 0 0 -1", ":-1\r\n"),
            ("BITPOS ones 1 3 5 BIT", ":3\r\n"),
            ("BITPOS ones 2", "-ERR The bit argument must be 1 or 0.\r\n"),
            ("BITPOS nokey 0", ":0\r\n"),
            ("BITPOS nokey 1", ":-1\r\n"),
            ("BITOP AND d s ones", ":6\r\n"),
            ("GET d", "$6\r\nfo\0\0\0\0\r\n"),
            ("BITOP NOT d s s", "-ERR BITOP NOT must be called with a single source key.\r\n"),
            ("BITOP NOT d nokey", ":0\r\n"),
            ("EXISTS d", ":0\r\n"),
            ("BITFIELD bf SET i8 0 -100 GET u8 0 INCRBY i8 0 -100", "*3\r\n:0\r\n:156\r\n:56\r\n"),
            ("BITFIELD bf OVERFLOW SAT INCRBY u4 #3 100 OVERFLOW FAIL INCRBY u4 #3 1", "*2\r\n:15\r\n$-1\r\n"),
            ("BITFIELD bf GET i64 0 SET u63 1 -1", "*2\r\n:...\r\n:...\r\n"),
            (
                "BITFIELD bf GET u64 0",
                "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n",
            ),
            ("BITFIELD_RO bf SET u8 0 1", "-ERR BITFIELD_RO only supports the GET subcommand\r\n"),
            ("BITFIELD_RO bf GET u8 #1", "*1\r\n:...\r\n"),
            ("BITFIELD bf OVERFLOW x", "-ERR Invalid OVERFLOW type specified\r\n"),
            ("BITFIELD bf", "*0\r\n"),
            // A reversed negative range answers 0 before the unit is read.
            ("BITCOUNT s -1 -2 bits", ":0\r\n"),
            ("BITCOUNT s 0 -1 bits", "-ERR syntax error\r\n"),
            // A bit write that changes nothing still leaves a private raw string, as in Redis.
            ("SET e hello", "+OK\r\n"),
            ("OBJECT ENCODING e", "$6\r\nembstr\r\n"),
            ("SETBIT e 0 0", ":0\r\n"),
            ("OBJECT ENCODING e", "$3\r\nraw\r\n"),
            // TTLs survive bit writes; BITOP's destination loses its TTL.
            ("EXPIRE e 100", ":1\r\n"),
            ("SETBIT e 1000 1", ":0\r\n"),
            ("TTL e", ":100\r\n"),
            ("EXPIRE d2 100", ":0\r\n"),
            ("SET d2 x EX 100", "+OK\r\n"),
            ("BITOP OR d2 e", ":126\r\n"),
            ("TTL d2", ":-1\r\n"),
            ("LPUSH l a", ":1\r\n"),
            ("SETBIT l 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("BITFIELD l GET u8 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ])
        .await;
    }
}
