//! Password checks shared by both protocols (RESP `AUTH` / `HELLO AUTH`, the Memcached port's
//! authentication): one user, `default`, whose password is `requirepass`. The comparison takes
//! time that depends on the length of the attempt only, never on how much of it is right or on
//! the password's length (Redis hashes both sides for the same reason).

/// True if `given` equals `expected`, compared in time independent of their contents.
pub fn password_matches(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, &b) in given.iter().enumerate() {
        // Every byte of the attempt is compared with some byte (0 once past the password's end).
        let e = expected.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(e ^ b);
    }
    diff == 0
}

/// True if `user`/`pass` are the `default` user's credentials under `requirepass` (any password
/// when none is set, as Redis's `nopass` default user).
pub fn credentials_match(requirepass: Option<&str>, user: &[u8], pass: &[u8]) -> bool {
    let user_ok = password_matches(b"default", user);
    let pass_ok = requirepass.is_none_or(|p| password_matches(p.as_bytes(), pass));
    user_ok & pass_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_only() {
        assert!(password_matches(b"secret", b"secret"));
        assert!(!password_matches(b"secret", b"secreT"));
        assert!(!password_matches(b"secret", b"secret2"));
        assert!(!password_matches(b"secret", b"secre"));
        assert!(!password_matches(b"secret", b""));
        assert!(password_matches(b"", b""));
        assert!(credentials_match(Some("pw"), b"default", b"pw"));
        assert!(!credentials_match(Some("pw"), b"admin", b"pw"));
        assert!(credentials_match(None, b"default", b"anything"));
    }
}
