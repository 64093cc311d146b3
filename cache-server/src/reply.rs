//! Reply encoding: writes RESP2 or RESP3 replies straight into the connection's output buffer.
//! Handlers call typed methods (`bulk`, `int`, `map`, ...) and never format protocol bytes
//! themselves; the RESP2/RESP3 difference (null, map, set, double, verbatim) lives only here.

use bytes::{BufMut, BytesMut};

/// The output buffer of one connection, with the protocol version the client chose.
#[derive(Debug, Default)]
pub struct Reply {
    /// Encoded replies not yet written to the socket.
    pub buf: BytesMut,
    /// True after `HELLO 3`.
    pub resp3: bool,
}

impl Reply {
    fn line(&mut self, prefix: u8, body: &[u8]) {
        self.buf.reserve(body.len() + 3);
        self.buf.put_u8(prefix);
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(b"\r\n");
    }

    fn len_line(&mut self, prefix: u8, n: i64) {
        let mut tmp = [0u8; 20];
        let s = fmt_i64(n, &mut tmp);
        self.line(prefix, s);
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string `+text`.
    pub fn simple(&mut self, s: &str) {
        self.line(b'+', s.as_bytes());
    }

    /// An error; `msg` includes its code, e.g. `ERR syntax error`. CR/LF become spaces.
    pub fn error(&mut self, msg: &str) {
        let clean: Vec<u8> = msg.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
        self.line(b'-', &clean);
    }

    /// An integer `:n`.
    pub fn int(&mut self, n: i64) {
        self.len_line(b':', n);
    }

    /// A bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        self.buf.reserve(b.len() + 16);
        self.len_line(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer rendered as a bulk string.
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = [0u8; 20];
        let s = fmt_i64(n, &mut tmp).to_vec();
        self.bulk(&s);
    }

    /// A missing value: `$-1` (RESP2) or `_` (RESP3).
    pub fn null(&mut self) {
        self.buf.extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A missing array: `*-1` (RESP2) or `_` (RESP3).
    pub fn null_array(&mut self) {
        self.buf.extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// An array header of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.len_line(b'*', n as i64);
    }

    /// A push header of `n` elements (`>n` in RESP3; RESP2 pub/sub messages are arrays).
    pub fn push(&mut self, n: usize) {
        self.len_line(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A map header of `n` pairs (a flat array of `2n` in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 { self.len_line(b'%', n as i64) } else { self.len_line(b'*', 2 * n as i64) }
    }

    /// A set header (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        self.len_line(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A double (`,` in RESP3, a bulk string in RESP2), formatted like Redis's `%.17g`.
    pub fn double(&mut self, d: f64) {
        // Integral values below 2^53 print as their integer digits under `%.17g`: no allocation.
        let mut tmp = [0u8; 20];
        let owned;
        let s: &[u8] = if d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0 && !(d == 0.0 && d.is_sign_negative()) {
            fmt_i64(d as i64, &mut tmp)
        } else {
            owned = format_double(d);
            owned.as_bytes()
        };
        if self.resp3 { self.line(b',', s) } else { self.bulk(s) }
    }

    /// A double in Redis's human form (`%.17Lf` without trailing zeros, as GEOPOS prints
    /// coordinates): `,` in RESP3, a bulk string in RESP2.
    pub fn human_double(&mut self, d: f64) {
        let mut s = format!("{d:.17}");
        if s.contains('.') {
            let keep = s.trim_end_matches('0').trim_end_matches('.').len();
            s.truncate(keep);
        }
        if s == "-0" {
            s.remove(0);
        }
        if self.resp3 { self.line(b',', s.as_bytes()) } else { self.bulk(s.as_bytes()) }
    }

    /// An array of simple strings: the lines of a HELP reply.
    pub fn simple_lines(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for l in lines {
            self.simple(l);
        }
    }

    /// A boolean (`#t`/`#f` in RESP3, `:1`/`:0` in RESP2).
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 { self.line(b'#', if b { b"t" } else { b"f" }) } else { self.int(i64::from(b)) }
    }

    /// Verbatim text (`=len\r\ntxt:...` in RESP3, a bulk string in RESP2), as INFO and CLIENT LIST use.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.len_line(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A list of bulk strings.
    pub fn bulks<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(&mut self, items: I)
    where
        I::IntoIter: ExactSizeIterator,
    {
        let it = items.into_iter();
        self.array(it.len());
        for i in it {
            self.bulk(i.as_ref());
        }
    }
}

/// Formats an i64 into `tmp` without allocating; returns the used tail.
pub fn fmt_i64(n: i64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = tmp.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        tmp[i] = b'-';
    }
    &tmp[i..]
}

/// A double as Redis 7.0 replies it (`%.17g`; `inf` / `-inf`).
pub fn format_double(d: f64) -> String {
    // Redis 7.0's addReplyDouble: `%.17g` (`inf` / `-inf` for infinities).
    crate::scripting::numfmt::fmt_g(d, 17)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_and_resp3_shapes() {
        let mut r = Reply::default();
        r.null();
        r.map(1);
        r.double(1.5);
        r.verbatim(b"x");
        r.int(-42);
        assert_eq!(&r.buf[..], b"$-1\r\n*2\r\n$3\r\n1.5\r\n$1\r\nx\r\n:-42\r\n");
        let mut r = Reply { resp3: true, ..Reply::default() };
        r.null();
        r.map(1);
        r.double(1.5);
        r.verbatim(b"x");
        r.set(0);
        assert_eq!(&r.buf[..], b"_\r\n%1\r\n,1.5\r\n=5\r\ntxt:x\r\n~0\r\n");
    }

    #[test]
    fn doubles_as_redis_prints_them() {
        for (d, want) in [
            (3.0, "3"),
            (-0.0, "-0"),
            (0.0, "0"),
            (-42.0, "-42"),
            (9007199254740991.0, "9007199254740991"),
            (1e17, "1e+17"),
            (0.1, "0.10000000000000001"),
            (f64::INFINITY, "inf"),
        ] {
            let mut r = Reply::default();
            r.double(d);
            assert_eq!(r.buf, format!("${}\r\n{want}\r\n", want.len()).as_bytes(), "{d}");
        }
    }

    #[test]
    fn integers() {
        let mut t = [0u8; 20];
        assert_eq!(fmt_i64(i64::MIN, &mut t), b"-9223372036854775808");
        assert_eq!(fmt_i64(0, &mut t), b"0");
    }
}
