//! Redis glob matching (`stringmatchlen`) for KEYS, SCAN MATCH, HSCAN MATCH and CONFIG GET:
//! `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes, binary-safe, case-sensitive unless asked.

/// True if `s` matches the Redis glob `pat`.
pub fn matches(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut p, mut i) = (0usize, 0usize);
    while p < pat.len() {
        match pat[p] {
            b'*' => {
                while p + 1 < pat.len() && pat[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pat.len() {
                    return true;
                }
                for start in i..=s.len() {
                    if matches(&pat[p + 1..], &s[start..], nocase) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if i >= s.len() {
                    return false;
                }
                i += 1;
            }
            b'[' => {
                if i >= s.len() {
                    return false;
                }
                p += 1;
                let not = p < pat.len() && pat[p] == b'^';
                if not {
                    p += 1;
                }
                let mut hit = false;
                loop {
                    if p >= pat.len() {
                        p -= 1;
                        break;
                    }
                    if pat[p] == b'\\' && p + 1 < pat.len() {
                        p += 1;
                        hit |= eq(pat[p], s[i]);
                    } else if pat[p] == b']' {
                        break;
                    } else if p + 2 < pat.len() && pat[p + 1] == b'-' {
                        let (mut lo, mut hi) = (pat[p], pat[p + 2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        p += 2;
                        let c = if nocase { s[i].to_ascii_lowercase() } else { s[i] };
                        let (lo, hi) =
                            if nocase { (lo.to_ascii_lowercase(), hi.to_ascii_lowercase()) } else { (lo, hi) };
                        hit |= c >= lo && c <= hi;
                    } else {
                        hit |= eq(pat[p], s[i]);
                    }
                    p += 1;
                }
                if hit == not {
                    return false;
                }
                i += 1;
            }
            b'\\' if p + 1 < pat.len() => {
                p += 1;
                if i >= s.len() || !eq(pat[p], s[i]) {
                    return false;
                }
                i += 1;
            }
            c => {
                if i >= s.len() || !eq(c, s[i]) {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
    }
    i == s.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn glob_cases() {
        let m = |p: &str, s: &str| matches(p.as_bytes(), s.as_bytes(), false);
        assert!(m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:age"));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(matches(b"MAX*", b"maxmemory", true));
    }
}
