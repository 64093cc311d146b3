//! RDB primitives: lengths, strings (raw, integer-encoded, LZF-compressed) and doubles (binary
//! and the old text form), written to a `Vec<u8>` and read back by a bounds-checked [`Reader`]
//! that never trusts a length before checking it against the bytes that remain.

use super::{Error, lzf};
use std::borrow::Cow;

/// `RDB_ENCVAL`: the two top bits of a length byte that announce a special string encoding.
const ENCVAL: u8 = 3;
/// `RDB_ENC_INT8` / `INT16` / `INT32` / `LZF`: the special string encodings.
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// How values are written (the `rdbcompression` directive, for DUMP and snapshots alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Compress strings over 20 bytes with LZF when that saves more than 4 bytes.
    pub compress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { compress: true }
    }
}

/// Appends an RDB length (`rdbSaveLen`): 6 bits, 14 bits, 32 bits or 64 bits, big-endian.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends `v` in the shortest integer encoding, if it fits 32 bits (`rdbEncodeInteger`).
fn put_int(out: &mut Vec<u8>, v: i64) -> bool {
    let tag = |enc: u8| (ENCVAL << 6) | enc;
    if let Ok(v) = i8::try_from(v) {
        out.extend_from_slice(&[tag(ENC_INT8), v as u8]);
    } else if let Ok(v) = i16::try_from(v) {
        out.push(tag(ENC_INT16));
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(v) {
        out.push(tag(ENC_INT32));
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Appends an RDB string as Redis's `rdbSaveRawString` does: a canonical integer of at most 11
/// characters that fits 32 bits as an integer; with compression on, a string over 20 bytes that
/// LZF shrinks to at most its length - 4 compressed; otherwise length + bytes.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], opts: Options) {
    if s.len() <= 11 {
        if let Some(v) = crate::frame::parse_i64(s) {
            if put_int(out, v) {
                return;
            }
        }
    }
    if opts.compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push((ENCVAL << 6) | ENC_LZF);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a double as 8 little-endian bytes (`rdbSaveBinaryDoubleValue`, `RDB_TYPE_ZSET_2`).
pub fn put_binary_double(out: &mut Vec<u8>, d: f64) {
    out.extend_from_slice(&d.to_le_bytes());
}

/// A cursor over an RDB byte stream; every read checks the bytes that remain.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

/// A length, or the special string encoding a length byte announced instead.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    /// A reader at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.b.len() - self.i
    }

    /// Reads one byte.
    pub fn byte(&mut self) -> Result<u8, Error> {
        let v = *self.b.get(self.i).ok_or(Error::Truncated)?;
        self.i += 1;
        Ok(v)
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: u64) -> Result<&'a [u8], Error> {
        if n > self.remaining() as u64 {
            return Err(Error::Truncated);
        }
        let s = &self.b[self.i..self.i + n as usize];
        self.i += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        Ok(self.take(N as u64)?.try_into().expect("took N bytes"))
    }

    fn len_or_encoding(&mut self) -> Result<Len, Error> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            2 if first == 0x80 => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
            2 if first == 0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
            2 => return Err(Error::Corrupt("unknown length encoding")),
            _ => Len::Encoded(first & 0x3f),
        })
    }

    /// Reads a plain length (`rdbLoadLen`).
    pub fn read_len(&mut self) -> Result<u64, Error> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(Error::Corrupt("string encoding where a length was expected")),
        }
    }

    /// Reads the element count of a collection whose elements take at least `min_bytes` each, so
    /// that a count the payload cannot hold is refused before anything is allocated for it.
    pub fn count(&mut self, min_bytes: usize) -> Result<usize, Error> {
        let n = self.read_len()?;
        if n == 0 {
            return Err(Error::Corrupt("empty collection"));
        }
        if n > (self.remaining() / min_bytes.max(1)) as u64 {
            return Err(Error::Truncated);
        }
        Ok(n as usize)
    }

    /// Reads an RDB string in any of its encodings (`rdbGenericLoadStringObject`).
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>, Error> {
        Ok(match self.len_or_encoding()? {
            Len::Plain(n) => Cow::Borrowed(self.take(n)?),
            Len::Encoded(ENC_INT8) => Cow::Owned((self.byte()? as i8).to_string().into_bytes()),
            Len::Encoded(ENC_INT16) => Cow::Owned(i16::from_le_bytes(self.array()?).to_string().into_bytes()),
            Len::Encoded(ENC_INT32) => Cow::Owned(i32::from_le_bytes(self.array()?).to_string().into_bytes()),
            Len::Encoded(ENC_LZF) => {
                let clen = self.read_len()?;
                let len = usize::try_from(self.read_len()?).map_err(|_| Error::Truncated)?;
                let data = self.take(clen)?;
                Cow::Owned(lzf::decompress(data, len).ok_or(Error::Corrupt("bad LZF data"))?)
            }
            Len::Encoded(_) => return Err(Error::Corrupt("unknown string encoding")),
        })
    }

    /// Reads a double stored as 8 little-endian bytes.
    pub fn binary_double(&mut self) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// Reads a double in the old text form (`rdbLoadDoubleValue`): a length byte (253 = NaN,
    /// 254 = +inf, 255 = -inf) and that many ASCII characters.
    pub fn text_double(&mut self) -> Result<f64, Error> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.take(u64::from(n))?;
                crate::commands::parse_f64(text).ok_or(Error::Corrupt("bad double"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        put_string(&mut v, s, Options::default());
        let mut r = Reader::new(&v);
        let back = r.string().unwrap().into_owned();
        assert_eq!(r.remaining(), 0);
        assert_eq!(back, s);
        v
    }

    #[test]
    fn strings_take_redis_encodings() {
        assert_eq!(round(b"12345"), b"\xc1\x39\x30", "DUMP of SET str 12345 on redis 7.0.15");
        assert_eq!(round(b"-1"), b"\xc0\xff");
        assert_eq!(round(b"2147483648"), b"\x0a2147483648", "past 32 bits: raw");
        assert_eq!(round(b"007"), b"\x03007");
        assert_eq!(round(b""), b"\x00");
        assert_eq!(round(&[b'a'; 300])[0], 0xc3);
        assert_eq!(round(&(0..=255u8).collect::<Vec<_>>())[..3], [0x41, 0x00, 0x00]);
    }

    #[test]
    fn lengths_are_checked() {
        let mut v = Vec::new();
        for n in [0, 63, 64, 16383, 16384, u64::from(u32::MAX), u64::MAX] {
            put_len(&mut v, n);
        }
        let mut r = Reader::new(&v);
        for n in [0, 63, 64, 16383, 16384, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(r.read_len().unwrap(), n);
        }
        assert!(matches!(Reader::new(b"\x05abc").string(), Err(Error::Truncated)));
        assert!(matches!(Reader::new(b"\x81\xff\xff\xff\xff\xff\xff\xff\xff").string(), Err(Error::Truncated)));
        assert!(Reader::new(b"\x41").count(1).is_err());
        assert!(Reader::new(b"\x03ab").count(1).is_err());
    }
}
