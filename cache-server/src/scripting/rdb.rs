//! The bits of Redis's RDB format that FUNCTION DUMP/RESTORE need: the DUMP payload footer
//! (RDB version 10, CRC-64/Jones), RDB strings (lengths, integer and LZF encodings) and the
//! `FUNCTION2` opcode. Owns no state; `persistence/` will own the full format.

/// `RDB_OPCODE_FUNCTION2`: a library's code follows as an RDB string.
pub const OPCODE_FUNCTION2: u8 = 245;
/// `RDB_OPCODE_FUNCTION_PRE_GA`: the 7.0 release candidates' format, refused as Redis does.
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;
/// The RDB version written in the payload footer (Redis 7.0).
pub const RDB_VERSION: u16 = 10;

/// CRC-64/Jones (reflected, polynomial 0xad93d23594c935a9), Redis's `crc64`.
#[must_use]
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 reflected
    for &b in data {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
        }
    }
    crc
}

/// Appends an RDB length.
pub fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends an RDB string as Redis's `rdbSaveRawString` does with `rdbcompression yes`: strings
/// over 20 bytes that LZF shrinks by more than 4 bytes are stored compressed (`0xc3`, compressed
/// length, original length, data), others raw. (Integer encoding applies only to strings of at
/// most 11 bytes that spell an integer; library code never does, so it is not done here.)
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() > 20 {
        if let Some(c) = lzf_compress(s, s.len() - 4) {
            out.push(0xc3);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// liblzf 3.6's `lzf_compress` as Redis builds it, so compressed bytes equal Redis's (see
/// [`crate::persistence::rdb::lzf`]). `None` when the result would not fit in `out_len`.
#[must_use]
pub fn lzf_compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    crate::persistence::rdb::lzf::compress(input, out_len)
}

/// A reader over an RDB byte stream.
#[derive(Debug)]
pub struct Reader<'a> {
    pub b: &'a [u8],
    pub i: usize,
}

impl<'a> Reader<'a> {
    /// Reads one byte.
    pub fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.i)?;
        self.i += 1;
        Some(v)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(s)
    }

    /// Reads a length; `Err(kind)` for a special string encoding (`11xxxxxx`).
    fn len(&mut self) -> Option<Result<u64, u8>> {
        let first = self.byte()?;
        Some(match first >> 6 {
            0 => Ok(u64::from(first & 0x3f)),
            1 => Ok((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            2 if first == 0x80 => Ok(u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?))),
            2 if first == 0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
            2 => return None,
            _ => Err(first & 0x3f),
        })
    }

    /// Reads an RDB string in any of its encodings.
    pub fn string(&mut self) -> Option<Vec<u8>> {
        match self.len()? {
            Ok(n) => Some(self.take(usize::try_from(n).ok()?)?.to_vec()),
            Err(0) => Some((self.byte()? as i8).to_string().into_bytes()),
            Err(1) => Some(i16::from_le_bytes(self.take(2)?.try_into().ok()?).to_string().into_bytes()),
            Err(2) => Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?).to_string().into_bytes()),
            Err(3) => {
                let clen = usize::try_from(self.len()?.ok()?).ok()?;
                let len = usize::try_from(self.len()?.ok()?).ok()?;
                lzf_decompress(self.take(clen)?, len)
            }
            Err(_) => None,
        }
    }
}

/// LZF decompression (liblzf's format, as Redis writes compressed RDB strings).
#[must_use]
pub fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len.min(1 << 26));
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            out.extend_from_slice(input.get(i..i + run)?);
            i += run;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..n + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

/// Wraps an RDB body as a DUMP payload: body, RDB version (LE), CRC-64 of both (LE).
#[must_use]
pub fn seal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// The body of a DUMP payload whose version and checksum are acceptable.
#[must_use]
pub fn unseal(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let (rest, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([rest[rest.len() - 2], rest[rest.len() - 1]]);
    if version > RDB_VERSION || crc64(0, rest).to_le_bytes() != crc {
        return None;
    }
    Some(&rest[..rest.len() - 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_jones_check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn empty_dump_matches_redis() {
        // FUNCTION DUMP on an empty redis-server 7.0.15: 0a 00 5d 9b 5c 40 0f 7f a2 da.
        assert_eq!(seal(Vec::new()), b"\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda");
    }

    #[test]
    fn lengths_and_lzf() {
        let mut v = Vec::new();
        put_len(&mut v, 300);
        assert_eq!(v, [0x41, 0x2c]);
        for s in [vec![b'x'; 300], (0..=255u8).collect::<Vec<u8>>(), b"short".to_vec()] {
            let mut v = Vec::new();
            put_string(&mut v, &s);
            assert_eq!(v[0] == 0xc3, s.len() == 300, "only the repetitive string compresses");
            assert_eq!(Reader { b: &v, i: 0 }.string().unwrap(), s);
        }
        // "aaaaaaaaaa": a literal 'a' then a back-reference of 9 at distance 1.
        assert_eq!(lzf_decompress(&[0x00, b'a', 0xe0, 0x00, 0x00], 10).unwrap(), b"aaaaaaaaaa");
    }
}
