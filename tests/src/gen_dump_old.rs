//! Builders of the encodings Redis 7.0 still loads but no longer writes (ziplists, zipmaps) and of
//! Redis 6-style DUMP payloads (RDB version 9), for `tests/dump_restore.rs`'s `old_encodings`:
//! written from `ziplist.c` / `zipmap.c`'s layouts, independently of the server's reader.

fn canonical_int(s: &[u8]) -> Option<i64> {
    let v: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (v.to_string().as_bytes() == s).then_some(v)
}

/// A ziplist of `items` (`ziplist.c`'s layout, integers in their narrowest encoding).
pub fn ziplist(items: &[Vec<u8>]) -> Vec<u8> {
    let (mut body, mut prev, mut tail) = (Vec::new(), 0usize, 0usize);
    for it in items {
        let start = body.len();
        tail = 10 + start;
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(0xfe);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match canonical_int(it) {
            Some(v @ 0..=12) => body.push(0xf1 + v as u8),
            Some(v) if i8::try_from(v).is_ok() => body.extend_from_slice(&[0xfe, v as u8]),
            Some(v) if i16::try_from(v).is_ok() => {
                body.push(0xc0);
                body.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                body.push(0xf0);
                body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                body.push(0xd0);
                body.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                body.push(0xe0);
                body.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                let n = it.len();
                if n < 64 {
                    body.push(n as u8);
                } else if n < 16384 {
                    body.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
                } else {
                    body.push(0x80);
                    body.extend_from_slice(&(n as u32).to_be_bytes());
                }
                body.extend_from_slice(it);
            }
        }
        prev = body.len() - start;
    }
    let mut z = ((10 + body.len() + 1) as u32).to_le_bytes().to_vec();
    z.extend_from_slice(&(tail.max(10) as u32).to_le_bytes());
    z.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
    z.extend_from_slice(&body);
    z.push(0xff);
    z
}

/// A zipmap of field/value pairs (`zipmap.c`; at most 253 counted).
pub fn zipmap(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut z = vec![pairs.len().min(253) as u8];
    let len = |z: &mut Vec<u8>, n: usize| {
        if n < 254 {
            z.push(n as u8);
        } else {
            z.push(254);
            z.extend_from_slice(&(n as u32).to_le_bytes());
        }
    };
    for (f, v) in pairs {
        len(&mut z, f.len());
        z.extend_from_slice(f);
        len(&mut z, v.len());
        z.push(0);
        z.extend_from_slice(v);
    }
    z.push(0xff);
    z
}

/// Appends an RDB length (6, 14 or 32 bits).
pub fn put_len(out: &mut Vec<u8>, n: usize) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Appends a raw RDB string.
pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len());
    out.extend_from_slice(s);
}

/// A DUMP payload of RDB version 9 (as Redis 6 writes them) with its CRC-64.
pub fn payload(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![ty];
    p.extend_from_slice(body);
    p.extend_from_slice(&9u16.to_le_bytes());
    let crc = cache_server::persistence::rdb::crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}
