//! Redis's listpack (`listpack.c`), the blob inside `RDB_TYPE_HASH_LISTPACK`, `ZSET_LISTPACK` and
//! the nodes of `LIST_QUICKLIST_2`: a writer that encodes entries as Redis's `lpAppend` does (so
//! blobs compare equal byte for byte) and a reader that validates the whole blob first.
//!
//! ```text
//!   [total bytes u32 LE][count u16 LE (65535 = unknown)] entry* [0xFF]
//!   entry = encoding+data, then backlen (the size of encoding+data, 1-5 bytes, read backwards)
//!   0xxxxxxx 7-bit uint | 10xxxxxx 6-bit-length string | 110xxxxx + 1 B 13-bit int
//!   1110xxxx + 1 B 12-bit-length string | 11110000 + u32 length string
//!   11110001/2/3/4 int16/24/32/64 LE | 11111111 end
//! ```

use super::Error;
use std::borrow::Cow;

/// One entry: a string, or an integer the writer found in a canonical decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// Bytes.
    Str(&'a [u8]),
    /// An integer (its decimal text is the element).
    Int(i64),
}

impl<'a> Item<'a> {
    /// The element's bytes (an integer as its decimal text).
    pub fn bytes(self) -> Cow<'a, [u8]> {
        match self {
            Item::Str(s) => Cow::Borrowed(s),
            Item::Int(v) => Cow::Owned(v.to_string().into_bytes()),
        }
    }
}

/// Header bytes (total size and count) and the terminator.
const HEADER: usize = 6;
const EOF: u8 = 0xff;
/// The count written when there are 65535 entries or more.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// A listpack being written.
#[derive(Debug, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Self { buf: vec![0; HEADER], count: 0 }
    }
}

impl Writer {
    /// Bytes the finished listpack would take now.
    pub fn size(&self) -> usize {
        self.buf.len() + 1
    }

    /// Entries written.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends `s` as `lpAppend` does: as an integer if it is a canonical decimal integer.
    pub fn push(&mut self, s: &[u8]) {
        match crate::frame::parse_i64(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    /// Appends an integer entry in its narrowest encoding.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            b.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        } else if let Ok(v) = i16::try_from(v) {
            b.push(0xf1);
            b.extend_from_slice(&v.to_le_bytes());
        } else if (-(1 << 23)..1 << 23).contains(&v) {
            b.push(0xf2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(v) {
            b.push(0xf3);
            b.extend_from_slice(&v.to_le_bytes());
        } else {
            b.push(0xf4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.backlen(start);
    }

    /// Appends a string entry as it is.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.backlen(start);
    }

    /// Appends the back-length of the entry that starts at `start` (`lpEncodeBacklen`).
    fn backlen(&mut self, start: usize) {
        let l = (self.buf.len() - start) as u64;
        let groups = match l {
            0..=127 => 1,
            128..16383 => 2,
            16383..2097151 => 3,
            2097151..268435455 => 4,
            _ => 5,
        };
        for g in (0..groups).rev() {
            let part = ((l >> (7 * g)) & 127) as u8;
            self.buf.push(if g == groups - 1 { part } else { part | 128 });
        }
        self.count += 1;
    }

    /// The finished blob.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// The entries of a listpack blob, after checking its header, every entry's size and back-length,
/// the terminator and the count (when known).
pub fn entries(blob: &[u8]) -> Result<Vec<Item<'_>>, Error> {
    let bad = |what| Error::Corrupt(what);
    if blob.len() < HEADER + 1 {
        return Err(bad("listpack too short"));
    }
    let total = u32::from_le_bytes(blob[..4].try_into().expect("4 bytes")) as usize;
    let count = u16::from_le_bytes([blob[4], blob[5]]);
    if total != blob.len() || blob[total - 1] != EOF {
        return Err(bad("listpack size or terminator"));
    }
    let body = &blob[HEADER..total - 1];
    let mut items = Vec::with_capacity(usize::from(count).min(body.len() / 2));
    let mut i = 0;
    while i < body.len() {
        let (item, len) = entry(&body[i..])?;
        let back = backlen_size(len as u64);
        let end = i + len + back;
        if end > body.len() || read_backlen(&body[i + len..end]) != Some(len as u64) {
            return Err(bad("listpack entry back-length"));
        }
        items.push(item);
        i = end;
    }
    if count != COUNT_UNKNOWN && usize::from(count) != items.len() {
        return Err(bad("listpack count"));
    }
    Ok(items)
}

/// The entry at the start of `b` and the size of its encoding + data.
fn entry(b: &[u8]) -> Result<(Item<'_>, usize), Error> {
    let trunc = Error::Corrupt("listpack entry past its end");
    let get = |from: usize, n: usize| {
        b.get(from..from.saturating_add(n)).ok_or(Error::Corrupt("listpack entry past its end"))
    };
    let int_le = |n: usize| -> Result<i64, Error> {
        let s = get(1, n)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(s);
        let shift = 64 - 8 * n as u32;
        Ok((i64::from_le_bytes(v) << shift) >> shift)
    };
    let first = *b.first().ok_or(trunc)?;
    Ok(match first {
        0x00..=0x7f => (Item::Int(i64::from(first)), 1),
        0x80..=0xbf => {
            let n = usize::from(first & 0x3f);
            (Item::Str(get(1, n)?), 1 + n)
        }
        0xc0..=0xdf => {
            let u = (u16::from(first & 0x1f) << 8) | u16::from(get(1, 1)?[0]);
            (Item::Int(i64::from(((u << 3) as i16) >> 3)), 2)
        }
        0xe0..=0xef => {
            let n = (usize::from(first & 0x0f) << 8) | usize::from(get(1, 1)?[0]);
            (Item::Str(get(2, n)?), 2 + n)
        }
        0xf0 => {
            let n = u32::from_le_bytes(get(1, 4)?.try_into().expect("4 bytes")) as usize;
            (Item::Str(get(5, n)?), 5 + n)
        }
        0xf1 => (Item::Int(int_le(2)?), 3),
        0xf2 => (Item::Int(int_le(3)?), 4),
        0xf3 => (Item::Int(int_le(4)?), 5),
        0xf4 => (Item::Int(int_le(8)?), 9),
        _ => return Err(Error::Corrupt("listpack entry encoding")),
    })
}

fn backlen_size(l: u64) -> usize {
    match l {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    }
}

fn read_backlen(b: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (k, &byte) in b.iter().enumerate() {
        if (k == 0) != (byte & 128 == 0) {
            return None;
        }
        v = (v << 7) | u64::from(byte & 127);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_redis_writes() {
        // DUMP of HSET h f v n 12 on redis 7.0.15 (body of RDB_TYPE_HASH_LISTPACK).
        let mut w = Writer::default();
        for s in [&b"f"[..], b"v", b"n", b"12"] {
            w.push(s);
        }
        assert_eq!(w.finish(), b"\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81n\x02\x0c\x01\xff");
        // RPUSH l a 1 -5 300 100000: a quicklist node.
        let mut w = Writer::default();
        for s in [&b"a"[..], b"1", b"-5", b"300", b"100000"] {
            w.push(s);
        }
        let lp = w.finish();
        assert_eq!(lp, b"\x17\x00\x00\x00\x05\x00\x81a\x02\x01\x01\xdf\xfb\x02\xc1\x2c\x02\xf2\xa0\x86\x01\x04\xff");
        let back: Vec<_> = entries(&lp).unwrap().into_iter().map(|i| i.bytes().into_owned()).collect();
        assert_eq!(back, [&b"a"[..], b"1", b"-5", b"300", b"100000"]);
    }

    #[test]
    fn every_width_round_trips() {
        let ints = [
            0,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            1 << 23,
            -(1 << 23),
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
        ];
        let strs: Vec<Vec<u8>> = [0usize, 63, 64, 4095, 4096, 20000].iter().map(|&n| vec![b'x'; n]).collect();
        let mut w = Writer::default();
        ints.iter().for_each(|&v| w.push_int(v));
        strs.iter().for_each(|s| w.push_str(s));
        let lp = w.finish();
        let items = entries(&lp).unwrap();
        let expect: Vec<Item<'_>> =
            ints.iter().map(|&v| Item::Int(v)).chain(strs.iter().map(|s| Item::Str(s))).collect();
        assert_eq!(items, expect);
    }

    #[test]
    fn refuses_damaged_blobs() {
        let mut w = Writer::default();
        w.push(b"hello");
        let lp = w.finish();
        for cut in 0..lp.len() {
            assert!(entries(&lp[..cut]).is_err());
        }
        let mut bad = lp.clone();
        bad[4] = 2;
        assert!(entries(&bad).is_err(), "count");
        let mut bad = lp.clone();
        bad[lp.len() - 2] = 9;
        assert!(entries(&bad).is_err(), "backlen");
    }
}
