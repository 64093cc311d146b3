//! Request framing: turns the bytes a client sent into commands (`Vec<Bytes>`), for both RESP
//! multibulk requests and inline (telnet / `redis-cli` style) lines, enforcing the protocol limits
//! with Redis's exact error texts. Argument slices share the connection's read buffer (no copy).
//!
//! The parser is resumable: when a frame is incomplete it remembers how far it got, so a frame that
//! arrives in many reads is scanned once, and a claimed bulk length is only a number — the bytes
//! are buffered as they arrive, never reserved up front. It owns no socket and knows no command.
//!
//! This is a hand-written parser rather than `redis-protocol`'s decoder: requests are only ever
//! arrays of bulk strings or inline lines, and we need Redis's limit checks and error strings
//! mid-frame. `benches/parse.rs` compares both on the same pipelined input.

use bytes::{Bytes, BytesMut};

/// Parser limits, from the config, tightened for clients that still have to AUTH.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest bulk length accepted.
    pub max_bulk: u64,
    /// Largest argument count accepted.
    pub max_multibulk: u64,
    /// Longest inline line / header line accepted.
    pub inline_max: u64,
    /// True when the client must AUTH first: then `unauth_*` limits apply.
    pub unauthenticated: bool,
    /// Argument count limit before AUTH.
    pub unauth_multibulk: u64,
    /// Bulk length limit before AUTH.
    pub unauth_bulk: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk: 512 << 20,
            max_multibulk: i32::MAX as u64,
            inline_max: 64 << 10,
            unauthenticated: false,
            unauth_multibulk: 10,
            unauth_bulk: 16384,
        }
    }
}

/// A protocol error: reply `-ERR Protocol error: <text>` and close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

fn perr(s: &str) -> ProtocolError {
    ProtocolError(s.to_string())
}

/// Progress through one multibulk request that is not complete yet.
#[derive(Debug, Default)]
struct Partial {
    /// Arguments still expected.
    remaining: usize,
    /// Offset in the buffer where parsing resumes.
    pos: usize,
}

/// Resumable request parser; one per connection.
#[derive(Debug, Default)]
pub struct Parser {
    partial: Option<Partial>,
    /// (start, end) of each argument of the partial request, as buffer offsets; reused across
    /// requests so a request allocates only its argument vector.
    spans: Vec<(usize, usize)>,
}

/// Redis's `string2ll`: strict decimal i64 (no `+`, no leading zeros, no spaces).
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 { None } else { Some((v as i128).wrapping_neg() as i64) }
    } else {
        i64::try_from(v).ok()
    }
}

impl Parser {
    /// Parses the next complete request from the front of `buf`, consuming it.
    ///
    /// Returns `Ok(None)` when more bytes are needed, `Ok(Some(args))` for a request (possibly
    /// empty: `*0` or a blank inline line, which the caller skips).
    ///
    /// # Errors
    /// [`ProtocolError`] with Redis's text; the caller replies and closes.
    pub fn parse(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if self.partial.is_none() {
            if buf[0] != b'*' {
                return parse_inline(buf, limits);
            }
            let Some(nl) = memchr(b'\r', &buf[..]) else {
                if buf.len() as u64 > limits.inline_max {
                    return Err(perr("too big mbulk count string"));
                }
                return Ok(None);
            };
            if nl + 1 >= buf.len() {
                return Ok(None);
            }
            let n = match parse_i64(&buf[1..nl]) {
                Some(n) if n <= i64::from(i32::MAX) && (n <= 0 || n as u64 <= limits.max_multibulk) => n,
                _ => return Err(perr("invalid multibulk length")),
            };
            if limits.unauthenticated && n > limits.unauth_multibulk as i64 {
                return Err(perr("unauthenticated multibulk length"));
            }
            if n <= 0 {
                let _ = buf.split_to(nl + 2);
                return Ok(Some(Vec::new()));
            }
            let n = n as usize;
            self.partial = Some(Partial { remaining: n, pos: nl + 2 });
            self.spans.clear();
            if self.spans.capacity() > 4096 {
                self.spans.shrink_to(1024);
            }
            self.spans.reserve(n.min(1024));
        }
        let p = self.partial.as_mut().expect("partial set above");
        while p.remaining > 0 {
            let rest = &buf[p.pos..];
            let Some(nl) = memchr(b'\r', rest) else {
                if rest.len() as u64 > limits.inline_max {
                    return Err(perr("too big bulk count string"));
                }
                return Ok(None);
            };
            if nl + 1 >= rest.len() {
                return Ok(None);
            }
            if rest.first() != Some(&b'$') {
                let got = rest.first().copied().unwrap_or(b'?') as char;
                return Err(ProtocolError(format!("expected '$', got '{got}'")));
            }
            let len = match parse_i64(&rest[1..nl]) {
                Some(l) if l >= 0 && l as u64 <= limits.max_bulk => l as usize,
                _ => return Err(perr("invalid bulk length")),
            };
            if limits.unauthenticated && len as u64 > limits.unauth_bulk {
                return Err(perr("unauthenticated bulk length"));
            }
            let start = nl + 2;
            if rest.len() < start + len + 2 {
                return Ok(None);
            }
            self.spans.push((p.pos + start, p.pos + start + len));
            p.pos += start + len + 2;
            p.remaining -= 1;
        }
        let p = self.partial.take().expect("partial set above");
        let frame = buf.split_to(p.pos).freeze();
        Ok(Some(self.spans.iter().map(|&(s, e)| frame.slice(s..e)).collect()))
    }

    /// Bytes the current partial frame has already claimed (for the read-size heuristic).
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn parse_inline(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = memchr(b'\n', &buf[..]) else {
        if buf.len() as u64 > limits.inline_max {
            return Err(perr("too big inline request"));
        }
        return Ok(None);
    };
    let line = buf.split_to(nl + 1);
    let mut end = nl;
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    let args = split_args(&line[..end]).ok_or_else(|| perr("unbalanced quotes in request"))?;
    Ok(Some(args.into_iter().map(Bytes::from).collect()))
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Redis's `sdssplitargs`: splits a line into words, honouring `"..."` (with `\n \r \t \b \a \xHH`
/// escapes) and `'...'` quoting. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    let is_space = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c);
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                    if let (Some(a), Some(b)) = (hex(line[i + 2]), hex(line[i + 3])) {
                        cur.push(a * 16 + b);
                        i += 4;
                        continue;
                    }
                }
                if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8], limits: &Limits) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let mut p = Parser::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match p.parse(&mut buf, limits) {
                Ok(Some(a)) => out.push(a),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn multibulk_pipeline_and_inline() {
        let (cmds, err) =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n  set a \"b\\x41c\" 'd e'\n*0\r\n", &Limits::default());
        assert!(err.is_none());
        assert_eq!(cmds.len(), 4);
        assert_eq!(cmds[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(cmds[1], vec![Bytes::from("PING")]);
        assert_eq!(cmds[2], vec![Bytes::from("set"), Bytes::from("a"), Bytes::from("bAc"), Bytes::from("d e")]);
        assert!(cmds[3].is_empty());
    }

    #[test]
    fn resumes_across_chunks() {
        let input = b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$10\r\n0123456789\r\n";
        let mut p = Parser::default();
        let mut buf = BytesMut::new();
        for (i, b) in input.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let r = p.parse(&mut buf, &Limits::default()).unwrap();
            assert_eq!(r.is_some(), i == input.len() - 1);
        }
    }

    #[test]
    fn errors_match_redis() {
        let l = Limits::default();
        let e = |i: &[u8], l: &Limits| parse_all(i, l).1.map(|e| e.to_string());
        assert_eq!(e(b"*1\r\nx\r\n", &l).unwrap(), "Protocol error: expected '$', got 'x'");
        assert_eq!(e(b"*1\r\n$-1\r\n", &l).unwrap(), "Protocol error: invalid bulk length");
        assert_eq!(e(b"*1\r\n$536870913\r\n", &l).unwrap(), "Protocol error: invalid bulk length");
        assert_eq!(e(b"*x\r\n", &l).unwrap(), "Protocol error: invalid multibulk length");
        assert_eq!(e(b"*3000000000\r\n", &l).unwrap(), "Protocol error: invalid multibulk length");
        assert_eq!(e(b"set \"a\n", &l).unwrap(), "Protocol error: unbalanced quotes in request");
        let big = vec![b'a'; 70 * 1024];
        assert_eq!(e(&big, &l).unwrap(), "Protocol error: too big inline request");
        let u = Limits { unauthenticated: true, ..l };
        assert_eq!(e(b"*11\r\n", &u).unwrap(), "Protocol error: unauthenticated multibulk length");
        assert_eq!(e(b"*1\r\n$16385\r\n", &u).unwrap(), "Protocol error: unauthenticated bulk length");
        // A huge claimed bulk is only a number: nothing is reserved for it.
        let mut p = Parser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nabc"[..]);
        assert!(p.parse(&mut buf, &l).unwrap().is_none());
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [&b"9223372036854775808"[..], b"01", b"+1", b" 1", b"-0", b"", b"1a"] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }
}
