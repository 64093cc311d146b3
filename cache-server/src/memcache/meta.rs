//! Memcached meta commands (`mg ms md ma mn me`) as memcached 1.6 documents them, over the same
//! entries as the text commands. Flags are single letters, some with a token (`T30`, `Oabc`);
//! return flags come back in the order they were asked for. Supported: `v k f t c s q O T N I E M`
//! plus `C` (compare CAS), `F` (client flags), `J`/`D` (ma initial/delta). Not supported (answered
//! `CLIENT_ERROR invalid flag`): `b` (base64 keys), `h`/`l` (last-access tracking), `R` (recache),
//! `u`, `x`. Stale items (`md I`) answer `X` and hand one client the `W` win token, others `Z`.

use super::McState;
use super::commands::{DB, Delta, Stored, apply_delta, apply_store, expire_at, string_of};
use super::parse::{BAD_FORMAT, Store, StoreMode, key_ok, parse_i32, parse_u64};
use crate::db::{Entry, Str, Value};
use crate::server::Shared;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

const STALE: u8 = 1;
const WIN_SENT: u8 = 2;

/// Flags of one meta request: the letters in order, and each token.
struct Flags<'a> {
    list: Vec<(u8, &'a [u8])>,
}

impl<'a> Flags<'a> {
    fn parse(tokens: &'a [Bytes], allowed: &[u8]) -> Result<Self, &'static str> {
        let mut list: Vec<(u8, &[u8])> = Vec::new();
        for t in tokens {
            let c = t[0];
            if !allowed.contains(&c) {
                return Err("CLIENT_ERROR invalid flag");
            }
            if list.iter().any(|(f, _)| *f == c) {
                return Err("CLIENT_ERROR duplicate flag");
            }
            list.push((c, &t[1..]));
        }
        Ok(Self { list })
    }

    fn has(&self, c: u8) -> bool {
        self.list.iter().any(|(f, _)| *f == c)
    }

    fn token(&self, c: u8) -> Option<&'a [u8]> {
        self.list.iter().find(|(f, _)| *f == c).map(|(_, t)| *t)
    }

    fn num<T>(&self, c: u8, parse: impl Fn(&[u8]) -> Option<T>) -> Result<Option<T>, &'static str> {
        match self.token(c) {
            None => Ok(None),
            Some(t) => parse(t).map(Some).ok_or(BAD_FORMAT),
        }
    }

    /// The return flags (`k`, `O`, `c`, `f`, `s`, `t`, `b`) in request order for `entry`.
    fn echo(&self, key: &[u8], entry: Option<&Entry>, now: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for (f, tok) in &self.list {
            let piece: Option<Vec<u8>> = match (f, entry) {
                (b'k', _) => Some([b"k", key].concat()),
                (b'O', _) => Some([b"O", *tok].concat()),
                (b'c', Some(e)) => Some(format!("c{}", e.cas()).into_bytes()),
                (b'f', Some(e)) => Some(format!("f{}", e.flags()).into_bytes()),
                (b's', Some(Entry { value: Value::Str(s), .. })) => Some(format!("s{}", s.len()).into_bytes()),
                (b't', Some(e)) => Some(format!("t{}", ttl_secs(e, now)).into_bytes()),
                _ => None,
            };
            if let Some(p) = piece {
                out.push(b' ');
                out.extend_from_slice(&p);
            }
        }
        out
    }
}

fn ttl_secs(e: &Entry, now: u64) -> i64 {
    if e.expire_at == 0 { -1 } else { (e.expire_at.saturating_sub(now)).div_ceil(1000) as i64 }
}

fn line(out: &mut Vec<u8>, code: &str, flags: &[u8]) {
    out.extend_from_slice(code.as_bytes());
    out.extend_from_slice(flags);
    out.extend_from_slice(b"\r\n");
}

/// Executes one meta command, appending its reply to `out`.
pub fn execute(
    shared: &Shared,
    mc: &McState,
    cmd: u8,
    tokens: &[Bytes],
    data: Option<Bytes>,
    now: u64,
    out: &mut Vec<u8>,
) {
    mc.stats.cmd_meta.fetch_add(1, Relaxed);
    if cmd == b'n' {
        out.extend_from_slice(b"MN\r\n");
        return;
    }
    let Some(key) = tokens.first() else {
        out.extend_from_slice(if cmd == b's' { b"CLIENT_ERROR bad command line format\r\n" } else { b"ERROR\r\n" });
        return;
    };
    if !key_ok(key) {
        line(out, BAD_FORMAT, b"");
        return;
    }
    let r = match cmd {
        b'g' => mg(shared, mc, key, &tokens[1..], now, out),
        b's' => ms(shared, mc, key, &tokens[2..], data.unwrap_or_default(), now, out),
        b'd' => md(shared, mc, key, &tokens[1..], now, out),
        b'a' => ma(shared, key, &tokens[1..], now, out),
        _ => me(shared, key, now, out),
    };
    if let Err(msg) = r {
        line(out, msg, b"");
    }
}

type Res = Result<(), &'static str>;

fn mg(shared: &Shared, mc: &McState, key: &Bytes, tokens: &[Bytes], now: u64, out: &mut Vec<u8>) -> Res {
    let f = Flags::parse(tokens, b"vkftcsqOTNE")?;
    let touch = f.num(b'T', parse_i32)?;
    let vivify = f.num(b'N', parse_i32)?;
    mc.stats.cmd_get.fetch_add(1, Relaxed);
    let found = shared.db.update(DB, key, now, |cur| {
        if string_of(cur).is_none() {
            let ttl = vivify?;
            let mut e = Entry::expiring(Value::Str(Str::empty()), expire_at(i64::from(ttl), now));
            e.set_meta(WIN_SENT);
            cur.put_mc(e);
            return cur.get().cloned().map(|e| (e, b" W".to_vec()));
        }
        let mut e = cur.get_with_cas()?;
        let mut extra = Vec::new();
        let before = e.meta();
        if before & WIN_SENT != 0 {
            extra.extend_from_slice(b" Z");
        }
        if before & STALE != 0 {
            extra.extend_from_slice(b" X");
            if before & WIN_SENT == 0 {
                e.set_meta(before | WIN_SENT);
                extra.extend_from_slice(b" W");
            }
        }
        if let Some(t) = touch {
            e.expire_at = expire_at(i64::from(t), now);
        }
        if touch.is_some() || e.meta() != before {
            cur.put_keep_cas(e.clone());
        }
        Some((e, extra))
    });
    let Some((e, extra)) = found else {
        mc.stats.get_misses.fetch_add(1, Relaxed);
        if !f.has(b'q') {
            line(out, "EN", b"");
        }
        return Ok(());
    };
    mc.stats.get_hits.fetch_add(1, Relaxed);
    let mut flags = f.echo(key, Some(&e), now);
    flags.extend_from_slice(&extra);
    match (&e.value, f.has(b'v')) {
        (Value::Str(s), true) => {
            line(out, &format!("VA {}", s.len()), &flags);
            out.extend_from_slice(s);
            out.extend_from_slice(b"\r\n");
        }
        _ => line(out, "HD", &flags),
    }
    Ok(())
}

fn ms(shared: &Shared, mc: &McState, key: &Bytes, tokens: &[Bytes], data: Bytes, now: u64, out: &mut Vec<u8>) -> Res {
    let f = Flags::parse(tokens, b"ckfqOTMCEFIs")?;
    let mode = match f.token(b'M') {
        None => StoreMode::Set,
        Some(m) => match m.first().map(u8::to_ascii_uppercase) {
            Some(b'S') => StoreMode::Set,
            Some(b'E') => StoreMode::Add,
            Some(b'R') => StoreMode::Replace,
            Some(b'A') => StoreMode::Append,
            Some(b'P') => StoreMode::Prepend,
            _ => return Err("CLIENT_ERROR invalid mode for ms M token"),
        },
    };
    let compare = f.num(b'C', parse_u64)?;
    let explicit = f.num(b'E', parse_u64)?;
    let flags = f.num(b'F', |t| parse_u64(t).and_then(|v| u32::try_from(v).ok()))?.unwrap_or(0);
    let exptime = f.num(b'T', parse_i32)?.map_or(0, i64::from);
    mc.stats.cmd_set.fetch_add(1, Relaxed);
    let mode = match (mode, compare) {
        (StoreMode::Set, Some(_)) => StoreMode::Cas,
        (m, _) => m,
    };
    let store = Store { mode, key: key.clone(), flags, exptime, data, cas: compare.unwrap_or(0), noreply: false };
    let (mut r, _) = apply_store(shared, &store, now, explicit);
    // I with C: a CAS older than the item's marks the stored value stale instead of failing.
    if r == Stored::Exists && f.has(b'I') {
        let older = shared.db.peek(DB, key, now).is_some_and(|e| compare.is_some_and(|c| e.cas() == 0 || c < e.cas()));
        if older {
            let s = Store { mode: StoreMode::Set, ..store };
            apply_store(shared, &s, now, explicit);
            shared.db.update(DB, key, now, |cur| {
                if let Some(mut e) = cur.get().cloned() {
                    e.set_meta(STALE);
                    cur.put_keep_cas(e);
                }
            });
            r = Stored::Stored;
        }
    }
    let code = match r {
        Stored::Stored if f.has(b'q') => return Ok(()),
        Stored::Stored => "HD",
        Stored::NotStored => "NS",
        Stored::Exists => "EX",
        Stored::NotFound => "NF",
        Stored::OutOfMemory => return Err("SERVER_ERROR out of memory storing object"),
    };
    let e = shared.db.peek_with_cas(DB, key, now);
    line(out, code, &f.echo(key, e.as_ref().filter(|_| r == Stored::Stored), now));
    Ok(())
}

fn md(shared: &Shared, mc: &McState, key: &Bytes, tokens: &[Bytes], now: u64, out: &mut Vec<u8>) -> Res {
    let f = Flags::parse(tokens, b"kqOCEIT").map_err(|_| "CLIENT_ERROR invalid or duplicate flag")?;
    let compare = f.num(b'C', parse_u64)?;
    let explicit = f.num(b'E', parse_u64)?;
    let ttl = f.num(b'T', parse_i32)?;
    let code = shared.db.update(DB, key, now, |cur| {
        let Some(mut e) = cur.get().cloned() else { return "NF" };
        if compare.is_some_and(|c| e.cas() == 0 || c != e.cas()) {
            return "EX";
        }
        if f.has(b'I') {
            e.set_meta(STALE);
            if let Some(t) = ttl {
                e.expire_at = expire_at(i64::from(t), now);
            }
            match explicit {
                Some(c) => {
                    e.set_cas(c);
                    cur.put_keep_cas(e);
                }
                None => cur.put_mc(e),
            }
        } else {
            cur.delete();
        }
        "HD"
    });
    if code == "NF" { &mc.stats.delete_misses } else { &mc.stats.delete_hits }.fetch_add(1, Relaxed);
    if !(code == "HD" && f.has(b'q')) {
        line(out, code, &f.echo(key, None, now));
    }
    Ok(())
}

fn ma(shared: &Shared, key: &Bytes, tokens: &[Bytes], now: u64, out: &mut Vec<u8>) -> Res {
    let f = Flags::parse(tokens, b"kqOCENJDTMvtc")?;
    let incr = match f.token(b'M').and_then(|m| m.first().copied()) {
        None | Some(b'I' | b'i' | b'+') => true,
        Some(b'D' | b'd' | b'-') => false,
        Some(_) => return Err("CLIENT_ERROR invalid mode for ma M token"),
    };
    let vivify = f.num(b'N', parse_i32)?;
    let initial = f.num(b'J', parse_u64)?.unwrap_or(0);
    let delta = f.num(b'D', parse_u64).map_err(|_| "CLIENT_ERROR invalid numeric delta argument")?.unwrap_or(1);
    let compare = f.num(b'C', parse_u64)?;
    let ttl = f.num(b'T', parse_i32)?;
    if let Some(c) = compare {
        let current = shared.db.peek(DB, key, now).map(|e| e.cas());
        if current.is_some_and(|cur| cur != c) {
            line(out, "EX", &f.echo(key, None, now));
            return Ok(());
        }
    }
    let mut r = apply_delta(shared, key, incr, delta, now);
    if r == Delta::NotFound {
        if let Some(n) = vivify {
            let s = Store {
                mode: StoreMode::Add,
                key: key.clone(),
                flags: 0,
                exptime: i64::from(n),
                data: initial.to_string().into(),
                cas: 0,
                noreply: false,
            };
            let (stored, cas) = apply_store(shared, &s, now, None);
            if stored == Stored::Stored {
                r = Delta::Value(initial, cas);
            }
        }
    }
    if let (Some(t), Delta::Value(..)) = (ttl, &r) {
        shared.db.update(DB, key, now, |cur| {
            if let Some(mut e) = cur.get().cloned() {
                e.expire_at = expire_at(i64::from(t), now);
                cur.put_keep_cas(e);
            }
        });
    }
    match r {
        Delta::NotFound => line(out, "NF", &f.echo(key, None, now)),
        Delta::NonNumeric => return Err("CLIENT_ERROR cannot increment or decrement non-numeric value"),
        Delta::OutOfMemory => return Err("SERVER_ERROR out of memory"),
        Delta::Value(v, _) => {
            let e = shared.db.peek_with_cas(DB, key, now);
            let flags = f.echo(key, e.as_ref(), now);
            if f.has(b'v') {
                let s = v.to_string();
                line(out, &format!("VA {}", s.len()), &flags);
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            } else if !f.has(b'q') {
                line(out, "HD", &flags);
            }
        }
    }
    Ok(())
}

fn me(shared: &Shared, key: &Bytes, now: u64, out: &mut Vec<u8>) -> Res {
    match shared.db.peek_with_cas(DB, key, now) {
        Some(e @ Entry { value: Value::Str(_), .. }) => {
            let size = crate::db::Db::memory_usage(key, &e);
            let text = format!(
                "ME {} exp={} la=0 cas={} fetch=no cls=1 size={size}",
                String::from_utf8_lossy(key),
                ttl_secs(&e, now),
                e.cas()
            );
            line(out, &text, b"");
        }
        _ => line(out, "EN", b""),
    }
    Ok(())
}
