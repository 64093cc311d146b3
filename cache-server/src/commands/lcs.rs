//! LCS: the longest common subsequence of two strings, as Redis 7.0 computes it (the same
//! dynamic-programming table, the same walk back, so the matches reported by IDX are Redis's).
//! The table takes `(len1 + 1) × (len2 + 1)` 32-bit cells, refused above `proto-max-bulk-len`
//! like Redis; filling it is long work for large strings and runs off the async worker.

use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, arg_i64, is, spec};
use crate::db::{Entry, Value};
use bytes::Bytes;

/// The LCS row.
pub const COMMANDS: &[CommandSpec] =
    &[spec("lcs", -3, &["readonly"], (1, 2, 1), "string", "Finds the longest common substring.", "7.0.0", lcs)];

/// What the reply holds.
#[derive(Debug, Default)]
struct Opts {
    idx: bool,
    len: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn parse(a: &[Bytes]) -> Result<Opts, CmdError> {
    let mut o = Opts::default();
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "idx") {
            o.idx = true;
        } else if is(&a[i], "len") {
            o.len = true;
        } else if is(&a[i], "withmatchlen") {
            o.with_match_len = true;
        } else if is(&a[i], "minmatchlen") && i + 1 < a.len() {
            o.min_match_len = arg_i64(&a[i + 1])?.max(0) as u64;
            i += 1;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    if o.idx && o.len {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    Ok(o)
}

/// The string at `key` (empty if absent); Redis's LCS-specific error for another type.
fn string_at(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, ()> {
    match ctx.get(key) {
        None => Ok(None),
        Some(Entry { value: Value::Str(s), .. }) => Ok(Some(Bytes::copy_from_slice(&s))),
        Some(_) => Err(()),
    }
}

/// One run of matching bytes: start and end (inclusive) in each string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

impl Match {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// The DP table: `at(i, j)` is the LCS length of `a[..i]` and `b[..j]`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    fn fill(a: &[u8], b: &[u8]) -> Table {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Table { cells, width }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }
}

/// Walks the table back from the end as Redis does: the common subsequence, and its runs from
/// the last to the first.
fn walk(a: &[u8], b: &[u8], t: &Table) -> (Vec<u8>, Vec<Match>) {
    let total = t.at(a.len(), b.len()) as usize;
    let mut seq = vec![0u8; total];
    let mut runs = Vec::new();
    let (mut i, mut j, mut k) = (a.len(), b.len(), total);
    let mut cur: Option<Match> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            seq[k - 1] = a[i - 1];
            match &mut cur {
                None => cur = Some(Match { a: (i - 1, i - 1), b: (j - 1, j - 1) }),
                Some(m) if m.a.0 == i && m.b.0 == j => {
                    m.a.0 -= 1;
                    m.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            if cur.is_some_and(|m| m.a.0 == 0 || m.b.0 == 0) {
                emit = true;
            }
            (i, j, k) = (i - 1, j - 1, k - 1);
        } else {
            if t.at(i - 1, j) > t.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit |= cur.is_some();
        }
        if emit && let Some(m) = cur.take() {
            runs.push(m);
        }
    }
    (seq, runs)
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN].
fn lcs(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let wrong = || CmdError::from("ERR The specified keys must contain string values");
    let x = string_at(ctx, &a[1]).map_err(|_| wrong())?;
    let y = string_at(ctx, &a[2]).map_err(|_| wrong())?;
    let o = parse(a)?;
    let (x, y) = (x.unwrap_or_default(), y.unwrap_or_default());
    let cells = (x.len() as u64 + 1) * (y.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.shared.config.read().proto_max_bulk_len {
        return Err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into());
    }
    let (seq, runs) = ctx.long(cells as usize, |_| {
        let t = Table::fill(&x, &y);
        walk(&x, &y, &t)
    });
    if o.len {
        ctx.out.int(seq.len() as i64);
    } else if !o.idx {
        ctx.out.bulk(&seq);
    } else {
        let shown: Vec<&Match> = runs.iter().filter(|m| m.len() as u64 >= o.min_match_len).collect();
        let out = &mut *ctx.out;
        out.map(2);
        out.bulk(b"matches");
        out.array(shown.len());
        for m in shown {
            out.array(2 + usize::from(o.with_match_len));
            for (s, e) in [m.a, m.b] {
                out.array(2);
                out.int(s as i64);
                out.int(e as i64);
            }
            if o.with_match_len {
                out.int(m.len() as i64);
            }
        }
        out.bulk(b"len");
        out.int(seq.len() as i64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::testutil::run_table;

    /// Redis's documented example, in each reply form.
    #[tokio::test]
    async fn lcs_forms() {
        run_table(&[
            ("MSET key1 ohmytext key2 mynewtext", "+OK\r\n"),
            ("LCS key1 key2", "$6\r\nmytext\r\n"),
            ("LCS key1 key2 LEN", ":6\r\n"),
            (
                "LCS key1 key2 IDX",
                "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
            ),
            (
                "LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN",
                "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n",
            ),
            ("LCS key1 nokey", "$0\r\n\r\n"),
            ("LCS key1 key2 LEN IDX", "-ERR If you want both the length and indexes, please just use IDX.\r\n"),
            ("LCS key1 key2 MINMATCHLEN", "-ERR syntax error\r\n"),
            ("LCS key1 key2 MINMATCHLEN x", "-ERR value is not an integer or out of range\r\n"),
            ("HSET h f v", ":1\r\n"),
            ("LCS key1 h", "-ERR The specified keys must contain string values\r\n"),
            ("LCS h key1 FOO", "-ERR The specified keys must contain string values\r\n"),
        ])
        .await;
    }
}
