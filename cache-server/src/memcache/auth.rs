//! Authentication on the Memcached port when `requirepass` is set, the way memcached 1.6 does it
//! with `-Y <authfile>` (ASCII authentication): until a client has authenticated, the only request
//! it may make is a `set` whose data block is `<username> <password>`. This file owns that
//! exchange (framing, replies, the credential check) and nothing else; the connection loop in
//! `mod.rs` asks it to decode requests until it says the client is in.
//!
//! The exchange, byte for byte as memcached 1.6.18 answers it:
//!
//! | request before authenticating                              | reply                                            |
//! |------------------------------------------------------------|--------------------------------------------------|
//! | any line that is not `set <key> <flags> <exptime> <bytes>` with a numeric `<bytes>` (every other text or meta command, `quit` and `version` included) | `CLIENT_ERROR unauthenticated` (connection stays open) |
//! | `set … <bytes>` + a block not ending in `\r\n`               | `CLIENT_ERROR bad command line termination`      |
//! | `set … <bytes>` + a block of fewer than two words            | `CLIENT_ERROR bad authentication token format`   |
//! | `set … <bytes>` + `<user> <password>` that do not match       | `CLIENT_ERROR authentication failure` (may retry) |
//! | `set … <bytes>` + `default <requirepass>`                     | `STORED`, and the connection is authenticated    |
//!
//! The key, flags, exptime and a trailing `noreply` of that `set` are ignored (nothing is stored,
//! and `STORED` is sent even with `noreply`); words after the password are ignored. The username is
//! `default`, Redis's default user, and the password is the current `requirepass` (compared in
//! constant time). A line of 2048 bytes without a newline closes the connection, and so does a
//! block longer than 16384 bytes (memcached closes once such a block fills its 16 KB read buffer;
//! we close as soon as the line announces it, without waiting for the bytes).
//!
//! Deliberate differences: memcached answers a batch of requests pipelined *before*
//! authentication with only the last reply of the batch (each reply overwrites the previous one);
//! we answer every request. A binary-protocol request (first byte 0x80) gets memcached's SASL-mode
//! answer, a binary `Auth failure.` (status 0x20), and the connection is closed: memcached with
//! `-Y` reads it as a text line and waits for a newline, which is a hang for a binary client, and
//! SASL itself is not implemented here.

use super::parse::{LINE_MAX, c_number};

/// Largest authentication block (`<bytes>` + 2) accepted: memcached's read buffer.
pub const AUTH_BLOCK_MAX: usize = 16 * 1024;

/// What the decoder found at the front of an unauthenticated connection's buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Not a whole request yet.
    Incomplete,
    /// Close the connection without a reply.
    Close,
    /// A reply line (without `\r\n`) after `consumed` bytes.
    Reply {
        /// The reply.
        msg: &'static str,
        /// Bytes used.
        consumed: usize,
    },
    /// Credentials to check after `consumed` bytes.
    Credentials {
        /// Username.
        user: Vec<u8>,
        /// Password.
        pass: Vec<u8>,
        /// Bytes used.
        consumed: usize,
    },
}

/// Reply to any request but the authenticating `set`.
pub const UNAUTHENTICATED: &str = "CLIENT_ERROR unauthenticated";
/// Reply to credentials that do not match.
pub const FAILURE: &str = "CLIENT_ERROR authentication failure";

/// memcached's `safe_strtoul` into 32 bits (a larger value is truncated, as memcached does).
fn size_token(tok: &[u8]) -> Option<u32> {
    let (neg, v) = c_number(tok)?;
    let v = u64::try_from(v).ok()?;
    if neg && v != 0 && (v.wrapping_neg() as i64) < 0 {
        return None;
    }
    Some(if neg { v.wrapping_neg() } else { v } as u32)
}

/// Decodes the authentication request at the front of `buf`.
pub fn next(buf: &[u8]) -> Step {
    let Some(nl) = buf.iter().position(|b| *b == b'\n') else {
        return if buf.len() > LINE_MAX { Step::Close } else { Step::Incomplete };
    };
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let tokens: Vec<&[u8]> = line.split(|b| *b == b' ').filter(|t| !t.is_empty()).collect();
    let after_line = nl + 1;
    let size = match tokens.as_slice() {
        [cmd, _, _, _, size, ..] if *cmd == b"set" => size_token(size),
        _ => None,
    };
    let Some(size) = size else { return Step::Reply { msg: UNAUTHENTICATED, consumed: after_line } };
    let block_len = size as usize + 2;
    if block_len > AUTH_BLOCK_MAX {
        return Step::Close;
    }
    let Some(block) = buf.get(after_line..after_line + block_len) else { return Step::Incomplete };
    let consumed = after_line + block_len;
    let Some(payload) = block.strip_suffix(b"\r\n") else {
        return Step::Reply { msg: "CLIENT_ERROR bad command line termination", consumed };
    };
    let mut words = payload.split(|b| *b == b' ').filter(|t| !t.is_empty());
    match (words.next(), words.next()) {
        (Some(user), Some(pass)) => Step::Credentials { user: user.to_vec(), pass: pass.to_vec(), consumed },
        _ => Step::Reply { msg: "CLIENT_ERROR bad authentication token format", consumed },
    }
}

/// True when `user`/`pass` are `default` and `password`, compared in constant time (the time
/// depends on the lengths only). No password configured accepts any credentials.
pub fn check(user: &[u8], pass: &[u8], password: Option<&str>) -> bool {
    password.is_none() || crate::auth::credentials_match(password, user, pass)
}

/// The binary-protocol reply to a request on a connection that must authenticate first: status
/// 0x20 `Auth failure.` with the request's opcode and opaque, as memcached answers binary requests
/// before SASL authentication.
pub fn binary_auth_failure(header: &[u8]) -> Vec<u8> {
    let opcode = header.get(1).copied().unwrap_or(0);
    let opaque = header.get(12..16).unwrap_or(&[0; 4]);
    super::binary::response(opcode, 0x20, 0, &[], &[], b"Auth failure.", opaque)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(msg: &'static str, consumed: usize) -> Step {
        Step::Reply { msg, consumed }
    }

    #[test]
    fn the_exchange_follows_memcached() {
        assert_eq!(next(b"get a\r\n"), reply(UNAUTHENTICATED, 7));
        assert_eq!(next(b"set a 0 0\r\n"), reply(UNAUTHENTICATED, 11));
        assert_eq!(next(b"set a 0 0 -1\r\n"), reply(UNAUTHENTICATED, 14));
        assert_eq!(next(b"SET a 0 0 3\r\n"), reply(UNAUTHENTICATED, 13));
        assert_eq!(next(b"set a 0 0 3\r\nab"), Step::Incomplete);
        assert_eq!(next(b"set a 0 0 3\r\nabcde"), reply("CLIENT_ERROR bad command line termination", 18));
        assert_eq!(next(b"set a 0 0 1\r\nx\r\n"), reply("CLIENT_ERROR bad authentication token format", 16));
        let creds = Step::Credentials { user: b"u".to_vec(), pass: b"p".to_vec(), consumed: 28 };
        assert_eq!(next(b"set a b c 5 noreply\r\n u  p\r\n"), creds);
        assert_eq!(next(b"set a 0 0 16383\r\n"), Step::Close);
        assert_eq!(next(&[b'x'; 2049]), Step::Close);
        assert_eq!(next(&[b'x'; 2048]), Step::Incomplete);
    }

    #[test]
    fn credentials() {
        assert!(check(b"default", b"pw", Some("pw")));
        assert!(!check(b"default", b"pw2", Some("pw")));
        assert!(!check(b"defaulx", b"pw", Some("pw")));
        assert!(!check(b"user", b"pw", Some("pw")));
        assert!(!check(b"default", b"", Some("pw")));
        assert!(check(b"anyone", b"x", None));
    }
}
