//! Redis glob matching (`stringmatchlen`) for KEYS, SCAN MATCH, HSCAN MATCH, PSUBSCRIBE and CONFIG
//! GET: `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes, binary-safe, case-sensitive unless asked.
//!
//! Hostile patterns cannot hurt: the matcher is iterative (no recursion, so no stack to overflow)
//! and backtracks only to the last `*` seen, so it runs in O(pattern × string) time and O(1)
//! space. That is sound because every token other than `*` consumes exactly one byte: once a later
//! `*` has matched, an earlier one never needs to take more bytes (the later star can absorb them).
//! Redis's recursive matcher refuses patterns whose matching would nest more than 1000 stars (its
//! CVE-2022-36021 guard); we give the same answer for them without the nesting.
//!
//! ```text
//!   pattern  *  a  b  *  c        on mismatch: retry from the last star,
//!            ▲ star = (p after *, i where it started)   one byte further along the string
//! ```

/// Redis returns no match once matching would recurse through more than this many `*` groups.
const MAX_STAR_NESTING: usize = 1000;

/// True if `s` matches the Redis glob `pat`.
pub fn matches(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    if nested_stars(pat) > MAX_STAR_NESTING {
        return false;
    }
    let (mut p, mut i) = (0usize, 0usize);
    // After a `*`: where the pattern resumes, and where in `s` that attempt started.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pat.len() {
            if pat[p] == b'*' {
                while p < pat.len() && pat[p] == b'*' {
                    p += 1;
                }
                if p == pat.len() {
                    return true;
                }
                star = Some((p, i));
                continue;
            }
            if i < s.len()
                && let Some(next) = token(pat, p, s[i], nocase)
            {
                p = next;
                i += 1;
                continue;
            }
        } else if i == s.len() {
            return true;
        }
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// The number of `*` groups matching must pass through (a trailing group ends it at once).
fn nested_stars(pat: &[u8]) -> usize {
    let (mut n, mut p) = (0, 0);
    while p < pat.len() {
        match pat[p] {
            b'\\' => p += 1,
            b'*' => {
                while p + 1 < pat.len() && pat[p + 1] == b'*' {
                    p += 1;
                }
                n += usize::from(p + 1 < pat.len());
            }
            b'[' => {
                // Skip the class so a `*` inside it is not counted.
                p += 1;
                while p < pat.len() && pat[p] != b']' {
                    p += if pat[p] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        p += 1;
    }
    n
}

/// Matches the single-byte token at `pat[p]` (not `*`) against `c`; the position after the token
/// if it matches.
fn token(pat: &[u8], mut p: usize, c: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    let hit = match pat[p] {
        b'?' => true,
        b'[' => {
            p += 1;
            let not = p < pat.len() && pat[p] == b'^';
            if not {
                p += 1;
            }
            let mut hit = false;
            loop {
                if p >= pat.len() {
                    // Unterminated class: like Redis, it runs to the end of the pattern.
                    p -= 1;
                    break;
                }
                if pat[p] == b'\\' && p + 1 < pat.len() {
                    p += 1;
                    hit |= eq(pat[p], c);
                } else if pat[p] == b']' {
                    break;
                } else if p + 2 < pat.len() && pat[p + 1] == b'-' {
                    let (mut lo, mut hi) = (pat[p], pat[p + 2]);
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    p += 2;
                    hit |= if nocase {
                        let c = c.to_ascii_lowercase();
                        c >= lo.to_ascii_lowercase() && c <= hi.to_ascii_lowercase()
                    } else {
                        c >= lo && c <= hi
                    };
                } else {
                    hit |= eq(pat[p], c);
                }
                p += 1;
            }
            hit != not
        }
        b'\\' if p + 1 < pat.len() => {
            p += 1;
            eq(pat[p], c)
        }
        lit => eq(lit, c),
    };
    hit.then_some(p + 1)
}

#[cfg(test)]
mod tests {
    use super::matches;
    use proptest::prelude::*;

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
        assert!(m("a\\", "a\\"));
        assert!(m("*[*]", "x*"));
        assert!(m("a[bc", "ab"));
        assert!(m("*b*", "abc"));
        assert!(!m("*b*c", "abd"));
        assert!(m("**a**", "a"));
        assert!(!m("?", ""));
        assert!(matches(b"MAX*", b"maxmemory", true));
    }

    #[test]
    fn hostile_patterns_answer_like_redis_without_recursion_or_backtracking_blowup() {
        // Redis 7.0.15: 400 star groups match, 15000 do not (nesting guard); `*` runs collapse.
        let key = vec![b'a'; 30_000];
        assert!(matches(&b"*a".repeat(400), &key, false));
        assert!(matches(&b"*a".repeat(1000), &key, false));
        assert!(!matches(&b"*a".repeat(1001), &key, false));
        assert!(!matches(&b"*a".repeat(30_000), &key, false));
        assert!(matches(&b"*".repeat(30_000), &key, false));
        // CVE-2022-36021's shape: exponential for a naive backtracker, linear-ish here.
        let mut pat = b"*a".repeat(20);
        pat.extend_from_slice(b"*b");
        assert!(!matches(&pat, &[b'a'; 40], false));
    }

    /// The recursive definition the iterative matcher must agree with (Redis's shape).
    fn reference(pat: &[u8], s: &[u8]) -> bool {
        match pat.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|k| reference(&pat[1..], &s[k..])),
            Some(_) => match (s.first(), super::token(pat, 0, s.first().copied().unwrap_or(0), false)) {
                (Some(_), Some(next)) => reference(&pat[next..], &s[1..]),
                _ => false,
            },
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_recursive_definition(
            pat in proptest::collection::vec(prop::sample::select(b"ab*?[]^-\\".to_vec()), 0..10),
            s in proptest::collection::vec(prop::sample::select(b"ab*-".to_vec()), 0..10),
        ) {
            prop_assert_eq!(matches(&pat, &s, false), reference(&pat, &s));
        }
    }
}
