//! A deliberately small, independent RESP2/RESP3 reader and writer for the end-to-end tests.
//!
//! It owns speaking raw protocol bytes to a server: [`RawConn`] writes commands (or arbitrary bytes)
//! and reads back exactly one reply, keeping both the parsed [`Frame`] and the raw bytes so tests can
//! compare replies byte for byte. It shares no code with the server (which uses `redis-protocol`), so
//! a bug in one codec cannot hide the same bug in the other. It must not grow test policy: what to
//! compare and how lives in the tests and in `diff`.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a test waits for one reply before calling the server hung.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// One reply as it came off the wire.
#[derive(Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+...`
    Simple(Vec<u8>),
    /// `-...`
    Error(Vec<u8>),
    /// `:...`
    Integer(i64),
    /// `$...`, `None` for the RESP2 null bulk `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*...`, `None` for the RESP2 null array `*-1`.
    Array(Option<Vec<Frame>>),
    /// RESP3 `_`.
    Null,
    /// RESP3 `,` kept as text so formatting differences are visible.
    Double(Vec<u8>),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `(`.
    BigNumber(Vec<u8>),
    /// RESP3 `=`: the three-letter format and the text.
    Verbatim(Vec<u8>, Vec<u8>),
    /// RESP3 `!`.
    BlobError(Vec<u8>),
    /// RESP3 `%`, pairs in wire order.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~`, in wire order.
    Set(Vec<Frame>),
    /// RESP3 `>`.
    Push(Vec<Frame>),
    /// RESP3 `|` attributes followed by the reply they decorate.
    Attribute(Vec<(Frame, Frame)>, Box<Frame>),
}

impl Frame {
    /// The error text of an error reply, if this is one.
    #[must_use]
    pub fn error_text(&self) -> Option<String> {
        match self {
            Frame::Error(e) | Frame::BlobError(e) => Some(String::from_utf8_lossy(e).into_owned()),
            _ => None,
        }
    }

    /// The reply as a test reads it: the text of a string or error reply (lossy UTF-8), an
    /// integer's digits, `(nil)` for a null, an array's items as `[a, b]`, else its debug form.
    #[must_use]
    pub fn text(&self) -> String {
        match self {
            Frame::Bulk(Some(b)) | Frame::Simple(b) | Frame::Error(b) | Frame::BlobError(b) | Frame::Verbatim(_, b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            Frame::Integer(n) => n.to_string(),
            Frame::Bulk(None) | Frame::Array(None) | Frame::Null => "(nil)".into(),
            Frame::Array(Some(items)) => format!("[{}]", items.iter().map(Frame::text).collect::<Vec<_>>().join(", ")),
            other => format!("{other:?}"),
        }
    }

    /// True for `$-1`, `*-1` and `_`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::Bulk(None) | Frame::Array(None))
    }
}

/// Writes bytes with non-printable characters escaped, like `redis-cli` does.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Simple(s) => write!(f, "+\"{}\"", escape(s)),
            Frame::Error(s) => write!(f, "-\"{}\"", escape(s)),
            Frame::Integer(i) => write!(f, ":{i}"),
            Frame::Bulk(None) => write!(f, "(nil bulk)"),
            Frame::Bulk(Some(b)) => write!(f, "\"{}\"", escape(b)),
            Frame::Array(None) => write!(f, "(nil array)"),
            Frame::Array(Some(items)) => f.debug_list().entries(items).finish(),
            Frame::Null => write!(f, "(null)"),
            Frame::Double(d) => write!(f, ",{}", escape(d)),
            Frame::Boolean(b) => write!(f, "#{b}"),
            Frame::BigNumber(n) => write!(f, "({}", escape(n)),
            Frame::Verbatim(fmt_, s) => write!(f, "={}:\"{}\"", escape(fmt_), escape(s)),
            Frame::BlobError(s) => write!(f, "!\"{}\"", escape(s)),
            Frame::Map(pairs) => f.debug_map().entries(pairs.iter().map(|(k, v)| (k, v))).finish(),
            Frame::Set(items) => write!(f, "set{items:?}"),
            Frame::Push(items) => write!(f, "push{items:?}"),
            Frame::Attribute(attrs, inner) => write!(f, "attr{attrs:?} {inner:?}"),
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
#[must_use]
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A blocking connection that speaks raw RESP. Every read is bounded by [`REPLY_TIMEOUT`].
#[derive(Debug)]
pub struct RawConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawConn {
    /// Connects to `addr` with read and write timeouts set.
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let writer = stream.try_clone()?;
        Ok(Self { reader: BufReader::new(stream), writer })
    }

    /// The underlying stream, for tests that shut down halves or change timeouts.
    #[must_use]
    pub fn stream(&self) -> &TcpStream {
        &self.writer
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// Sends `cmds` as one pipelined batch and reads their replies.
    pub fn pipeline<A: AsRef<[u8]>>(&mut self, cmds: &[Vec<A>]) -> io::Result<Vec<Frame>> {
        let bytes: Vec<u8> = cmds.iter().flat_map(|cmd| encode_command(cmd)).collect();
        self.send_raw(&bytes)?;
        cmds.iter().map(|_| self.read_frame()).collect()
    }

    /// Sends one command and reads its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Frame> {
        self.send_raw(&encode_command(args))?;
        self.read_frame()
    }

    /// Sends one command and reads its reply; an I/O error fails the test, naming the command.
    pub fn call<A: AsRef<[u8]> + std::fmt::Debug>(&mut self, args: &[A]) -> Frame {
        self.cmd(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// Sends one command and reads its reply with the raw bytes.
    pub fn cmd_raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<(Frame, Vec<u8>)> {
        self.send_raw(&encode_command(args))?;
        self.read_frame_raw()
    }

    /// Reads one reply.
    pub fn read_frame(&mut self) -> io::Result<Frame> {
        self.read_frame_raw().map(|(f, _)| f)
    }

    /// Reads one reply, returning it with the exact bytes it was encoded as.
    pub fn read_frame_raw(&mut self) -> io::Result<(Frame, Vec<u8>)> {
        let mut raw = Vec::new();
        let frame = read_frame(&mut self.reader, &mut raw, 0)?;
        Ok((frame, raw))
    }

    /// Reads until the server closes the connection, returning everything it sent before closing.
    /// A reset counts as closed. Fails if the server neither closes nor sends within the timeout.
    pub fn read_to_close(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        match self.reader.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(out),
            Err(e) => Err(e),
        }
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_line(r: &mut impl BufRead, raw: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    raw.extend_from_slice(&line);
    if !line.ends_with(b"\r\n") {
        return Err(bad(format!("line not terminated by CRLF: {}", escape(&line))));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(s: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(s).ok().and_then(|s| s.parse().ok()).ok_or_else(|| bad(format!("bad integer {}", escape(s))))
}

fn read_blob(r: &mut impl BufRead, raw: &mut Vec<u8>, len: i64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| bad("negative blob length"))?;
    let mut buf = vec![0; len + 2];
    r.read_exact(&mut buf)?;
    raw.extend_from_slice(&buf);
    if !buf.ends_with(b"\r\n") {
        return Err(bad("blob not terminated by CRLF"));
    }
    buf.truncate(len);
    Ok(buf)
}

fn read_items(r: &mut impl BufRead, raw: &mut Vec<u8>, n: i64, depth: usize) -> io::Result<Vec<Frame>> {
    (0..n).map(|_| read_frame(r, raw, depth + 1)).collect()
}

fn read_pairs(r: &mut impl BufRead, raw: &mut Vec<u8>, n: i64, depth: usize) -> io::Result<Vec<(Frame, Frame)>> {
    (0..n).map(|_| Ok((read_frame(r, raw, depth + 1)?, read_frame(r, raw, depth + 1)?))).collect()
}

fn read_frame(r: &mut impl BufRead, raw: &mut Vec<u8>, depth: usize) -> io::Result<Frame> {
    if depth > 64 {
        return Err(bad("reply nested too deeply"));
    }
    let line = read_line(r, raw)?;
    let (&kind, rest) = line.split_first().ok_or_else(|| bad("empty line"))?;
    let rest = rest.to_vec();
    Ok(match kind {
        b'+' => Frame::Simple(rest),
        b'-' => Frame::Error(rest),
        b':' => Frame::Integer(parse_int(&rest)?),
        b'$' => match parse_int(&rest)? {
            -1 => Frame::Bulk(None),
            n => Frame::Bulk(Some(read_blob(r, raw, n)?)),
        },
        b'*' => match parse_int(&rest)? {
            -1 => Frame::Array(None),
            n => Frame::Array(Some(read_items(r, raw, n, depth)?)),
        },
        b'_' if rest.is_empty() => Frame::Null,
        b',' => Frame::Double(rest),
        b'#' if rest == b"t" => Frame::Boolean(true),
        b'#' if rest == b"f" => Frame::Boolean(false),
        b'(' => Frame::BigNumber(rest),
        b'!' => Frame::BlobError(read_blob(r, raw, parse_int(&rest)?)?),
        b'=' => {
            let blob = read_blob(r, raw, parse_int(&rest)?)?;
            if blob.len() < 4 || blob[3] != b':' {
                return Err(bad("verbatim string without a format"));
            }
            Frame::Verbatim(blob[..3].to_vec(), blob[4..].to_vec())
        }
        b'%' => Frame::Map(read_pairs(r, raw, parse_int(&rest)?, depth)?),
        b'~' => Frame::Set(read_items(r, raw, parse_int(&rest)?, depth)?),
        b'>' => Frame::Push(read_items(r, raw, parse_int(&rest)?, depth)?),
        b'|' => {
            let attrs = read_pairs(r, raw, parse_int(&rest)?, depth)?;
            Frame::Attribute(attrs, Box::new(read_frame(r, raw, depth + 1)?))
        }
        _ => return Err(bad(format!("unknown reply type in line {}", escape(&line)))),
    })
}
