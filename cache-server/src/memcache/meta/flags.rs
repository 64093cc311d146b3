//! The flags of a meta request, decoded as memcached 1.6.18's `_meta_flag_preparse` does: one
//! letter per token, some with a number after it; a repeated letter or one outside the known set
//! stops at once (`duplicate flag` / `invalid flag`); a bad number is remembered and decoding goes
//! on (the last error's text wins); `b` decodes the key from base64 in place. Also the pieces of
//! a reply every meta command shares: the opaque and the key as `k` returns it.

use super::super::item::{base64_decode, base64_encode};
use super::super::parse::{BAD_FORMAT, parse_flags, parse_i32, parse_u64};
use bytes::Bytes;

/// Longest opaque token (`O` included).
const OPAQUE_MAX: usize = 32;

/// The decoded flags of one meta request.
#[derive(Debug, Default)]
pub struct Flags<'a> {
    /// Every flag token in request order (letter first).
    pub list: Vec<&'a [u8]>,
    /// The key (decoded when `b`).
    pub key: Vec<u8>,
    /// `b`: the key came base64-encoded.
    pub binary: bool,
    /// `q`: suppress the nominal reply.
    pub quiet: bool,
    /// `v`: return the value.
    pub value: bool,
    /// `u`: do not bump the item (fetched bit, last access).
    pub no_update: bool,
    /// `I`: invalidate (mark stale) instead of failing or deleting.
    pub stale: bool,
    /// `N<ttl>`: vivify on miss with this exptime.
    pub vivify: Option<i32>,
    /// `T<ttl>`: new exptime.
    pub ttl: Option<i32>,
    /// `R<secs>`: win a recache token when the TTL left is below this.
    pub recache: Option<i32>,
    /// `C<cas>`: compare CAS.
    pub cas: Option<u64>,
    /// `M<mode>`: mode switch of `ms` / `ma`.
    pub mode: Option<u8>,
    /// `F<flags>`: client flags of `ms`.
    pub client_flags: u32,
    /// `J<n>`: `ma`'s initial value on vivify.
    pub initial: u64,
    /// `D<n>`: `ma`'s delta.
    pub delta: u64,
}

impl<'a> Flags<'a> {
    /// Decodes `tokens` (the flags after the key, or after an `ms`'s length) for `key`.
    ///
    /// # Errors
    ///
    /// memcached's error line for the first fatal problem, else for the last bad number.
    pub fn parse(key: &[u8], tokens: &'a [Bytes]) -> Result<Self, &'static str> {
        let mut f = Flags { key: key.to_vec(), delta: 1, ..Flags::default() };
        let mut seen = [false; 127];
        let mut error: Option<&'static str> = None;
        for t in tokens {
            let o = t[0];
            if o >= 127 || seen[usize::from(o)] {
                return Err("CLIENT_ERROR duplicate flag");
            }
            seen[usize::from(o)] = true;
            let arg = &t[1..];
            let bad_token = "CLIENT_ERROR bad token in command line format";
            let num = |v: Option<i32>, err: &mut Option<&'static str>| {
                if v.is_none() {
                    *err = Some(bad_token);
                }
                v
            };
            match o {
                b'b' => match base64_decode(key) {
                    Some(k) => {
                        f.key = k;
                        f.binary = true;
                    }
                    None => error = Some("CLIENT_ERROR error decoding key"),
                },
                b'N' => f.vivify = num(parse_i32(arg), &mut error).or(Some(0)),
                b'T' => f.ttl = num(parse_i32(arg), &mut error),
                b'R' => f.recache = num(parse_i32(arg), &mut error),
                b'l' | b'O' | b'P' | b'L' | b'k' | b's' | b't' | b'c' | b'f' | b'h' => {}
                b'v' => f.value = true,
                b'u' => f.no_update = true,
                b'q' => f.quiet = true,
                b'F' => match parse_flags(arg) {
                    Some(v) => f.client_flags = v,
                    None => error = Some(error.unwrap_or(BAD_FORMAT)),
                },
                b'C' => match parse_u64(arg) {
                    Some(v) => f.cas = Some(v),
                    None => error = Some(bad_token),
                },
                b'M' if t.len() != 2 => error = Some("CLIENT_ERROR incorrect length for M token"),
                b'M' => f.mode = Some(t[1]),
                b'J' => match parse_u64(arg) {
                    Some(v) => f.initial = v,
                    None => error = Some("CLIENT_ERROR invalid numeric initial value"),
                },
                b'D' => match parse_u64(arg) {
                    Some(v) => f.delta = v,
                    None => error = Some("CLIENT_ERROR invalid numeric delta value"),
                },
                b'I' => f.stale = true,
                _ => return Err("CLIENT_ERROR invalid flag"),
            }
            f.list.push(t);
        }
        match error {
            Some(e) => Err(e),
            None => Ok(f),
        }
    }

    /// Whether flag `c` was given.
    pub fn has(&self, c: u8) -> bool {
        self.list.iter().any(|t| t[0] == c)
    }

    /// Appends ` O…` and ` k…` in request order (the reply flags of a miss or a write), with the
    /// key encoded when `binary`.
    ///
    /// # Errors
    ///
    /// An opaque longer than memcached allows.
    pub fn echo_opaque_and_key(&self, binary: bool, out: &mut Vec<u8>) -> Result<(), &'static str> {
        for t in &self.list {
            match t[0] {
                b'O' => opaque(t, out)?,
                b'k' => key(&self.key, binary, out),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Appends ` O…` (the whole token).
///
/// # Errors
///
/// `CLIENT_ERROR opaque token too long` past 32 bytes.
pub fn opaque(token: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    if token.len() > OPAQUE_MAX {
        return Err("CLIENT_ERROR opaque token too long");
    }
    out.push(b' ');
    out.extend_from_slice(token);
    Ok(())
}

/// Appends ` k<key>`, or ` k<base64> b` for a binary key.
pub fn key(key: &[u8], binary: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b" k");
    if binary {
        out.extend_from_slice(&base64_encode(key));
        out.extend_from_slice(b" b");
    } else {
        out.extend_from_slice(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|t| Bytes::copy_from_slice(t.as_bytes())).collect()
    }

    #[test]
    fn errors_follow_memcached_precedence() {
        let t = toks("v v");
        assert_eq!(Flags::parse(b"k", &t).unwrap_err(), "CLIENT_ERROR duplicate flag");
        let t = toks("Tx Zz");
        assert_eq!(Flags::parse(b"k", &t).unwrap_err(), "CLIENT_ERROR invalid flag");
        let t = toks("Jx Dx");
        assert_eq!(Flags::parse(b"k", &t).unwrap_err(), "CLIENT_ERROR invalid numeric delta value");
        let t = toks("Fx");
        assert_eq!(Flags::parse(b"k", &t).unwrap_err(), BAD_FORMAT);
        let t = toks("b k");
        let f = Flags::parse(b"YWJj", &t).unwrap();
        assert_eq!((f.key.as_slice(), f.binary), (&b"abc"[..], true));
        let mut out = Vec::new();
        f.echo_opaque_and_key(true, &mut out).unwrap();
        assert_eq!(out, b" kYWJj b");
    }
}
