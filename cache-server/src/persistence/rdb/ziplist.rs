//! The encodings Redis 7.0 still loads but no longer writes: the ziplist (`ziplist.c`, in
//! `RDB_TYPE_{LIST,ZSET,HASH}_ZIPLIST` and the nodes of `LIST_QUICKLIST`) and the zipmap
//! (`zipmap.c`, `RDB_TYPE_HASH_ZIPMAP`). Readers only, validating every size against the blob.
//!
//! ```text
//!   ziplist: [zlbytes u32][zltail u32][zllen u16] entry* [0xFF]        (all little-endian)
//!     entry = prevlen (1 B < 254, or 0xFE + u32) · encoding · data
//!     00pppppp / 01pppppp q / 10000000 + u32 BE: string of that length
//!     0xC0 i16 · 0xD0 i32 · 0xE0 i64 · 0xF0 i24 · 0xFE i8 · 0xF1..0xFD: 0..12 inline
//!   zipmap:  [zmlen] (len key len free value pad)* [0xFF]   len = 1 B < 254, or 254 + u32
//! ```

use super::Error;
use super::listpack::Item;

const ZIP_END: u8 = 0xff;
const ZIP_BIG_PREVLEN: u8 = 254;

/// The entries of a ziplist blob, after checking its header, every entry's `prevlen` and size,
/// the terminator and the count (when below 65535).
pub fn entries(blob: &[u8]) -> Result<Vec<Item<'_>>, Error> {
    let bad = Error::Corrupt;
    if blob.len() < 11 {
        return Err(bad("ziplist too short"));
    }
    let total = u32::from_le_bytes(blob[..4].try_into().expect("4 bytes")) as usize;
    let count = u16::from_le_bytes([blob[8], blob[9]]);
    if total != blob.len() || blob[total - 1] != ZIP_END {
        return Err(bad("ziplist size or terminator"));
    }
    let end = total - 1;
    let mut items = Vec::with_capacity(usize::from(count).min(end / 2));
    let (mut i, mut prev) = (10, 0usize);
    while i < end {
        let start = i;
        let b = &blob[..end];
        let at = |k: usize| b.get(k).copied().ok_or(bad("ziplist entry past its end"));
        let span = |from: usize, n: usize| b.get(from..from.saturating_add(n)).ok_or(bad("ziplist entry past its end"));
        let prevlen = if at(i)? < ZIP_BIG_PREVLEN {
            i += 1;
            usize::from(at(i - 1)?)
        } else if at(i)? == ZIP_BIG_PREVLEN {
            i += 5;
            u32::from_le_bytes(span(i - 4, 4)?.try_into().expect("4 bytes")) as usize
        } else {
            return Err(bad("ziplist prevlen"));
        };
        if prevlen != prev {
            return Err(bad("ziplist prevlen"));
        }
        let enc = at(i)?;
        i += 1;
        let int = |n: usize, i: usize| -> Result<i64, Error> {
            let s = span(i, n)?;
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(s);
            let shift = 64 - 8 * n as u32;
            Ok((i64::from_le_bytes(v) << shift) >> shift)
        };
        let (item, data) = match enc >> 6 {
            0 => {
                let n = usize::from(enc & 0x3f);
                (Item::Str(span(i, n)?), n)
            }
            1 => {
                let n = (usize::from(enc & 0x3f) << 8) | usize::from(at(i)?);
                i += 1;
                (Item::Str(span(i, n)?), n)
            }
            2 if enc == 0x80 => {
                let n = u32::from_be_bytes(span(i, 4)?.try_into().expect("4 bytes")) as usize;
                i += 4;
                (Item::Str(span(i, n)?), n)
            }
            2 => return Err(bad("ziplist string encoding")),
            _ => match enc {
                0xc0 => (Item::Int(int(2, i)?), 2),
                0xd0 => (Item::Int(int(4, i)?), 4),
                0xe0 => (Item::Int(int(8, i)?), 8),
                0xf0 => (Item::Int(int(3, i)?), 3),
                0xfe => (Item::Int(int(1, i)?), 1),
                0xf1..=0xfd => (Item::Int(i64::from(enc & 0x0f) - 1), 0),
                _ => return Err(bad("ziplist integer encoding")),
            },
        };
        i += data;
        items.push(item);
        prev = i - start;
    }
    if i != end {
        return Err(bad("ziplist entry past its end"));
    }
    if count != u16::MAX && usize::from(count) != items.len() {
        return Err(bad("ziplist count"));
    }
    Ok(items)
}

/// The field/value pairs of a zipmap blob, flattened (field, value, field, value, …).
pub fn zipmap(blob: &[u8]) -> Result<Vec<Item<'_>>, Error> {
    let bad = Error::Corrupt;
    let mut items = Vec::new();
    let mut i = 1;
    let at = |k: usize| blob.get(k).copied().ok_or(bad("zipmap past its end"));
    let span = |from: usize, n: usize| blob.get(from..from.saturating_add(n)).ok_or(bad("zipmap past its end"));
    let len = |i: &mut usize| -> Result<usize, Error> {
        let b = at(*i)?;
        *i += 1;
        Ok(match b {
            0..=253 => usize::from(b),
            254 => {
                *i += 4;
                u32::from_le_bytes(span(*i - 4, 4)?.try_into().expect("4 bytes")) as usize
            }
            _ => return Err(bad("zipmap length")),
        })
    };
    loop {
        if at(i)? == ZIP_END {
            if i + 1 != blob.len() {
                return Err(bad("zipmap trailing bytes"));
            }
            return Ok(items);
        }
        let klen = len(&mut i)?;
        items.push(Item::Str(span(i, klen)?));
        i += klen;
        let vlen = len(&mut i)?;
        let free = usize::from(at(i)?);
        i += 1;
        items.push(Item::Str(span(i, vlen)?));
        i = i.checked_add(vlen + free).ok_or(bad("zipmap past its end"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist of `entries` (already encoded: encoding + data), with correct prevlens.
    fn ziplist(entries: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        for e in entries {
            let start = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(254);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(e);
            prev = body.len() - start;
        }
        let total = (10 + body.len() + 1) as u32;
        let mut z = total.to_le_bytes().to_vec();
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        z.extend_from_slice(&body);
        z.push(ZIP_END);
        z
    }

    #[test]
    fn reads_every_encoding() {
        let long = [&[0x41, 0x2c][..], &[b'y'; 300]].concat();
        let z = ziplist(&[
            b"\x03abc",
            b"\xf1",
            b"\xfd",
            b"\xfe\xfb",
            b"\xc0\x2c\x01",
            b"\xf0\xa0\x86\x01",
            b"\xd0\x00\x00\x00\x80",
            b"\xe0\xff\xff\xff\xff\xff\xff\xff\x7f",
            &long,
        ]);
        let items = entries(&z).unwrap();
        assert_eq!(
            items,
            [
                Item::Str(b"abc"),
                Item::Int(0),
                Item::Int(12),
                Item::Int(-5),
                Item::Int(300),
                Item::Int(100000),
                Item::Int(i64::from(i32::MIN)),
                Item::Int(i64::MAX),
                Item::Str(&[b'y'; 300])
            ]
        );
        for cut in 0..z.len() {
            assert!(entries(&z[..cut]).is_err());
        }
    }

    #[test]
    fn reads_zipmaps() {
        let zm = b"\x02\x01f\x02\x00vv\x01g\x01\x02x\x00\x00\xff";
        assert_eq!(zipmap(zm).unwrap(), [Item::Str(b"f"), Item::Str(b"vv"), Item::Str(b"g"), Item::Str(b"x")]);
        for cut in 0..zm.len() {
            assert!(zipmap(&zm[..cut]).is_err());
        }
    }
}
