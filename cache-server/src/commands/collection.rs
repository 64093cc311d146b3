//! Typed access to the collection values (hashes, lists, sets, sorted sets) shared by their
//! command families: read one with a WRONGTYPE check, or change one in place inside the key's
//! `Db::update` (`Current::modify`), creating it on first write and deleting the key when its last
//! element goes, as Redis does. A value a reader still shares (an HGETALL or LRANGE in progress)
//! is copied before the write (`Arc::make_mut`); one nobody shares is changed where it lies, so a
//! write costs what it changes.

use super::keys::{ScanOpts, parse_cursor, parse_scan_opts};
use super::{CmdError, Ctx, WRONGTYPE};
use crate::db::{Current, Entry, HashValue, Value};
use crate::types::{list::List, set::Set, stream::Stream, zset::ZSet};
use std::sync::Arc;

/// A collection stored behind an `Arc` in one [`Value`] variant.
pub trait Collection: Default + Clone {
    /// The value's collection, if it is of this type.
    fn of(v: &Value) -> Option<&Arc<Self>>;
    /// [`Collection::of`], mutably.
    fn of_mut(v: &mut Value) -> Option<&mut Arc<Self>>;
    /// Wraps a collection into its value variant.
    fn wrap(c: Arc<Self>) -> Value;
    /// True if it has no elements (the key is then deleted).
    fn empty(&self) -> bool;
}

macro_rules! collection {
    ($ty:ty, $variant:ident) => {
        collection!($ty, $variant, |c: &$ty| c.is_empty());
    };
    ($ty:ty, $variant:ident, $empty:expr) => {
        impl Collection for $ty {
            fn of(v: &Value) -> Option<&Arc<Self>> {
                if let Value::$variant(c) = v { Some(c) } else { None }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Arc<Self>> {
                if let Value::$variant(c) = v { Some(c) } else { None }
            }
            fn wrap(c: Arc<Self>) -> Value {
                Value::$variant(c)
            }
            fn empty(&self) -> bool {
                ($empty)(self)
            }
        }
    };
}

collection!(HashValue, Hash);
collection!(List, List);
collection!(Set, Set);
collection!(ZSet, ZSet);
// A stream is a key even when it holds no entry (XADD's MAXLEN 0, XDEL of the last one, XGROUP
// CREATE … MKSTREAM), as in Redis: it is never deleted for being empty.
collection!(Stream, Stream, |_: &Stream| false);

/// The collection at `key` of the selected database: `Ok(None)` if absent, WRONGTYPE if the key
/// holds another type. Counts a keyspace hit or miss.
pub fn read<T: Collection>(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<T>>, CmdError> {
    typed(ctx.get(key))
}

/// [`read`] without counting a hit or miss.
pub fn peek<T: Collection>(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Arc<T>>, CmdError> {
    typed(ctx.peek(key))
}

fn typed<T: Collection>(e: Option<Entry>) -> Result<Option<Arc<T>>, CmdError> {
    match e {
        None => Ok(None),
        Some(e) => T::of(&e.value).cloned().map(Some).ok_or_else(|| WRONGTYPE.into()),
    }
}

/// Changes the collection at `key` in place (creating an empty one first if `create` and the key
/// is absent; otherwise an absent key returns `absent` without calling `f`). The key is deleted if
/// `f` leaves the collection empty, and a new collection `f` leaves empty is not stored.
pub fn modify<T: Collection, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut T) -> Result<R, CmdError>,
    absent: R,
) -> Result<R, CmdError> {
    modify_unless(ctx, key, create, |_| false, f, absent)
}

/// [`modify`], except that a collection for which `unchanged` answers true is left alone (not
/// written, so its watchers are not touched) and `absent` is returned, as Redis does for a no-op
/// HDEL, SREM or HSETNX.
pub fn modify_unless<T: Collection, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    unchanged: impl FnOnce(&T) -> bool,
    f: impl FnOnce(&mut T) -> Result<R, CmdError>,
    absent: R,
) -> Result<R, CmdError> {
    ctx.update(key, |cur| modify_current(cur, create, unchanged, f, absent))
}

/// [`modify_unless`] on a key already open in `Db::update` (for commands that also read or write
/// its entry otherwise, or that work inside [`Ctx::atomically`] on several keys).
pub fn modify_current<T: Collection, R>(
    cur: &mut Current<'_, '_>,
    create: bool,
    unchanged: impl FnOnce(&T) -> bool,
    f: impl FnOnce(&mut T) -> Result<R, CmdError>,
    absent: R,
) -> Result<R, CmdError> {
    match cur.get() {
        None if !create => return Ok(absent),
        None => {
            let mut c = T::default();
            let r = f(&mut c)?;
            if !c.empty() {
                cur.put(Entry::new(T::wrap(Arc::new(c))));
            }
            return Ok(r);
        }
        Some(e) => match T::of(&e.value) {
            None => return Err(WRONGTYPE.into()),
            Some(c) if unchanged(c) => return Ok(absent),
            Some(_) => {}
        },
    }
    let (r, empty) = cur
        .modify(|e| {
            let c = Arc::make_mut(T::of_mut(&mut e.value).expect("checked to be of this type above"));
            (f(c), c.empty())
        })
        .expect("checked to be live above");
    if empty {
        cur.delete();
    }
    r
}

/// The start of HSCAN / SSCAN / ZSCAN in Redis's order: the cursor, then the key (absent: an empty
/// scan is replied and `None` returned, whatever the options), then the options.
pub fn scan_start<'a, T: Collection>(
    ctx: &mut Ctx<'_>,
    a: &'a [bytes::Bytes],
) -> Result<Option<(u64, Arc<T>, ScanOpts<'a>)>, CmdError> {
    let cursor = parse_cursor(&a[2])?;
    let Some(c) = read::<T>(ctx, &a[1])? else {
        scan_header(ctx, 0);
        ctx.out.array(0);
        return Ok(None);
    };
    Ok(Some((cursor, c, parse_scan_opts(&a[3..], false)?)))
}

/// A scan reply's first part: two elements, the next cursor first (the items follow).
pub fn scan_header(ctx: &mut Ctx<'_>, next: u64) {
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
}

/// Parses `numkeys key… WHERE [COUNT count]` from `a[at]` on (LMPOP and BLMPOP with LEFT|RIGHT,
/// ZMPOP and BZMPOP with MIN|MAX), with Redis's errors in its order: the keys, whether `WHERE` is
/// the second of `words`, and the count (1 by default).
pub fn mpop_args<'a>(
    a: &'a [bytes::Bytes],
    at: usize,
    words: [&str; 2],
) -> Result<(&'a [bytes::Bytes], bool, usize), CmdError> {
    use super::{SYNTAX, is};
    let positive = |arg: &[u8], what: &str| {
        crate::frame::parse_i64(arg)
            .filter(|&n| n >= 1)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| CmdError::from(format!("ERR {what} should be greater than 0")))
    };
    let numkeys = positive(&a[at], "numkeys")?;
    let where_at = at.checked_add(numkeys).and_then(|w| w.checked_add(1)).filter(|&w| w < a.len()).ok_or(SYNTAX)?;
    let second = match &a[where_at] {
        w if is(w, words[0]) => false,
        w if is(w, words[1]) => true,
        _ => return Err(SYNTAX.into()),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < a.len() {
        if count.is_none() && is(&a[j], "count") && j + 1 < a.len() {
            count = Some(positive(&a[j + 1], "count")?);
            j += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    Ok((&a[at + 1..where_at], second, count.unwrap_or(1)))
}

thread_local! {
    static RNG: std::cell::Cell<u64> = std::cell::Cell::new({
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new().build_hasher().finish() | 1
    });
}

/// A uniform index below `n` (xorshift64*), for the random-member commands.
pub fn random_below(n: usize) -> usize {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        ((u128::from(x.wrapping_mul(0x2545_f491_4f6c_dd1d)) * n as u128) >> 64) as usize
    })
}

/// `count` distinct ranks below `n` (`count < n`) in random order: a partial Fisher-Yates shuffle
/// when they are many, rejection sampling when they are few.
pub fn distinct_ranks(n: usize, count: usize) -> Vec<usize> {
    if count * 3 > n {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + random_below(n - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            let r = random_below(n);
            if seen.insert(r) {
                v.push(r);
            }
        }
        v
    }
}

/// A reply this large (bytes) stops ZRANDMEMBER / HRANDFIELD with a huge negative count and closes
/// the client, as an output buffer limit would (Redis keeps going until memory runs out).
pub const RANDOM_REPLY_CAP: usize = 1 << 30;

/// The `count [WITH…]` arguments of ZRANDMEMBER and HRANDFIELD (`a[2..]`), checked in Redis's
/// order: the count's range, the keyword, then the count's range with pairs in the reply.
pub fn random_count(a: &[bytes::Bytes], with: &str) -> Result<(i64, bool), CmdError> {
    let l = crate::frame::parse_i64(&a[2]).ok_or(CmdError::from(super::NOT_INT))?;
    if l == i64::MIN {
        return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
    }
    if a.len() > 4 || (a.len() == 4 && !super::is(&a[3], with)) {
        return Err(super::SYNTAX.into());
    }
    let pairs = a.len() == 4;
    if pairs && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err("ERR value is out of range".into());
    }
    Ok((l, pairs))
}
