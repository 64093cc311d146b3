//! The seeded generator of set commands for `set_differential`, and the agreement rules for the
//! replies Redis leaves random.
//!
//! It owns *what* is sent: every set command in valid and invalid forms (integer and non-integer
//! members, members that look like integers but are not for an intset, binary and long members,
//! adds that carry a set past `set-max-intset-entries`, STORE forms over keys of other types,
//! SMOVE's edge cases, SINTERCARD's numkeys and LIMIT errors, SSCAN cursors and options, wrong
//! arity), over a small pool of keys shared with strings and hashes so WRONGTYPE happens.
//!
//! It keeps a model of the keyspace (which key holds what), updated by interpreting each command
//! as Redis 7.0 would, for two reasons. The servers must stay in the same state, so SPOP is sent
//! only where its effect is deterministic (a count covering the whole set, a missing key, a wrong
//! type) or followed by `DEL` of its key (after a `SCARD`, and an `OBJECT ENCODING` where the
//! encoding is deterministic). And the random replies (SRANDMEMBER, SPOP, partial SSCANs and
//! hashtable orders) are judged by property against the members the key held when the command
//! was generated: right count, members of the set, distinct where Redis promises it ([`agree`]).
//! It does not talk to servers.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::draw::Draw;
use crate::generator::Command;
use crate::resp::Frame;

type Members = BTreeSet<Vec<u8>>;

/// Keys the set commands pick from; `str` and `h` usually hold a string and a hash.
const KEYS: &[&[u8]] = &[b"s0", b"s1", b"s2", b"s 3\r\n\x00\xff", b"", b"str", b"h", b"none"];

/// Integers (canonical for an intset), including each width's edges.
const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "42",
    "32767",
    "32768",
    "-32768",
    "-32769",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "9223372036854775807",
    "-9223372036854775808",
];

/// Texts that read as numbers but are not intset integers (Redis's `string2ll`).
const NOT_INTS: &[&str] =
    &["01", "+1", " 1", "1 ", "-0", "1.0", "9223372036854775808", "-9223372036854775809", "1e3", ""];

const STRINGS: &[&[u8]] = &[b"a", b"b", b"c", b"member", b"\x00\xff\r\n", b"x y", b"*", b"?", b"\xd0\xba\xd0\xbb"];

const PATTERNS: &[&[u8]] = &[b"*", b"1*", b"m*", b"?", b"[a-c]", b"*\x00*", b"-*"];

/// What a key holds in the model.
#[derive(Debug, Clone)]
enum Kind {
    Set(Members),
    Str,
    Hash,
    /// A set after a random SPOP, until the `DEL` that follows it.
    Unknown,
}

/// The members each recent random-reply command saw, newest last (see [`agree`]).
pub type Snapshots = Rc<RefCell<VecDeque<(Command, Members)>>>;

/// How many snapshots are kept: more than any pipelined batch.
const SNAPSHOTS_KEPT: usize = 512;

/// Generates set commands for one seed.
#[derive(Debug)]
pub struct SetGenerator {
    rng: StdRng,
    model: BTreeMap<Vec<u8>, Kind>,
    pending: VecDeque<Command>,
    snapshots: Snapshots,
    /// Also send `CONFIG SET set-max-intset-entries` (only on servers of their own: the setting
    /// is process-wide in ours).
    thresholds: bool,
}

impl Draw for SetGenerator {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

impl SetGenerator {
    /// A generator for `seed`; with `thresholds`, it also changes `set-max-intset-entries`.
    #[must_use]
    pub fn new(seed: u64, thresholds: bool) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            model: BTreeMap::new(),
            pending: VecDeque::new(),
            snapshots: Rc::default(),
            thresholds,
        }
    }

    /// The snapshots [`agree`] judges random replies against.
    #[must_use]
    pub fn snapshots(&self) -> Snapshots {
        Rc::clone(&self.snapshots)
    }

    /// The next command.
    pub fn next_command(&mut self) -> Command {
        let cmd = match self.pending.pop_front() {
            Some(c) => c,
            None => self.generate(),
        };
        let name = String::from_utf8_lossy(&cmd[0]).to_ascii_lowercase();
        if matches!(name.as_str(), "srandmember" | "spop" | "sscan") {
            let seen = cmd.get(1).map(|k| self.members(k)).unwrap_or_default();
            let mut snaps = self.snapshots.borrow_mut();
            snaps.push_back((cmd.clone(), seen));
            if snaps.len() > SNAPSHOTS_KEPT {
                snaps.pop_front();
            }
        }
        self.apply(&name, &cmd);
        cmd
    }

    fn key(&mut self) -> Vec<u8> {
        self.pick(KEYS).to_vec()
    }

    /// A key that holds a set in the model, if any (half the time), else any key.
    fn set_key(&mut self) -> Vec<u8> {
        let sets: Vec<Vec<u8>> =
            self.model.iter().filter(|(_, k)| matches!(k, Kind::Set(_))).map(|(k, _)| k.clone()).collect();
        if !sets.is_empty() && self.chance(60) {
            return sets[self.rng.random_range(0..sets.len())].clone();
        }
        self.key()
    }

    fn members(&self, key: &[u8]) -> Members {
        match self.model.get(key) {
            Some(Kind::Set(m)) => m.clone(),
            _ => Members::new(),
        }
    }

    fn member(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..20) {
            0..=6 => self.rng.random_range(-20i64..40).to_string().into_bytes(),
            7..=8 => self.pick(INTS).as_bytes().to_vec(),
            9 => self.pick(NOT_INTS).as_bytes().to_vec(),
            10..=13 => self.pick(STRINGS).to_vec(),
            14 => {
                let len = self.rng.random_range(20..80);
                let mut v = vec![0; len];
                self.rng.fill_bytes(&mut v);
                v
            }
            _ => format!("m{}", self.rng.random_range(0..30)).into_bytes(),
        }
    }

    /// A member to add to `key`: `s0` and `s1` mostly take integers, so they stay intsets a while.
    fn member_for(&mut self, key: &[u8]) -> Vec<u8> {
        if matches!(key, b"s0" | b"s1") && self.chance(90) {
            if self.chance(85) {
                return self.rng.random_range(-20i64..200).to_string().into_bytes();
            }
            return self.pick(INTS).as_bytes().to_vec();
        }
        self.member()
    }

    /// A member of `key`'s set most of the time, else any member.
    fn member_of(&mut self, key: &[u8]) -> Vec<u8> {
        let m: Vec<Vec<u8>> = self.members(key).into_iter().collect();
        if !m.is_empty() && self.chance(70) {
            return m[self.rng.random_range(0..m.len())].clone();
        }
        self.member()
    }

    fn cmd(name: &str, args: impl IntoIterator<Item = Vec<u8>>) -> Command {
        let mut c = vec![name.as_bytes().to_vec()];
        c.extend(args);
        c
    }

    fn keys(&mut self, min: usize, max: usize) -> Vec<Vec<u8>> {
        let n = self.rng.random_range(min..=max);
        (0..n).map(|_| self.set_key()).collect()
    }

    fn generate(&mut self) -> Command {
        match self.rng.random_range(0..100) {
            0..=21 => self.sadd(),
            22..=27 => {
                let k = self.set_key();
                let n = self.rng.random_range(1..4);
                let m: Vec<Vec<u8>> = (0..n).map(|_| self.member_of(&k)).collect();
                Self::cmd("SREM", std::iter::once(k).chain(m))
            }
            28..=33 => self.read_one(),
            34..=39 => self.srandmember(),
            40..=45 => self.spop(),
            46..=51 => self.smove(),
            52..=63 => self.combine(),
            64..=67 => self.sintercard(),
            68..=74 => self.sscan(),
            75..=79 => {
                let k = self.set_key();
                Self::cmd("OBJECT", [b"ENCODING".to_vec(), k])
            }
            80..=84 => self.other_types(),
            85..=88 => {
                let k = self.key();
                Self::cmd("DEL", [k])
            }
            89..=93 => self.wrong_arity(),
            94..=95 if self.thresholds => {
                let n = self.pick(&["0", "1", "2", "3", "5", "16", "512"]);
                Self::cmd("CONFIG", [b"SET".to_vec(), b"set-max-intset-entries".to_vec(), n.as_bytes().to_vec()])
            }
            _ => {
                let k = self.set_key();
                let name = self.pick(&["TYPE", "EXISTS", "SCARD"]);
                Self::cmd(name, [k])
            }
        }
    }

    fn sadd(&mut self) -> Command {
        let k = self.set_key();
        let members: Vec<Vec<u8>> = match self.rng.random_range(0..40) {
            // A run of integers that may carry an intset past 512 entries.
            0 => {
                let base = self.rng.random_range(-600i64..600);
                let n = self.rng.random_range(490..530);
                (base..base + n).map(|i| i.to_string().into_bytes()).collect()
            }
            // Enough strings for a hash index, some long.
            1..=2 => (0..self.rng.random_range(17..60))
                .map(|i| format!("m{i}").into_bytes())
                .chain([self.member()])
                .collect(),
            _ => (0..self.rng.random_range(1..5)).map(|_| self.member_for(&k)).collect(),
        };
        Self::cmd("SADD", std::iter::once(k).chain(members))
    }

    fn read_one(&mut self) -> Command {
        let k = self.set_key();
        match self.rng.random_range(0..4) {
            0 => {
                let m = self.member_of(&k);
                Self::cmd("SISMEMBER", [k, m])
            }
            1 => {
                let n = self.rng.random_range(1..5);
                let m: Vec<Vec<u8>> = (0..n).map(|_| self.member_of(&k)).collect();
                Self::cmd("SMISMEMBER", std::iter::once(k).chain(m))
            }
            2 => Self::cmd("SCARD", [k]),
            _ => Self::cmd("SMEMBERS", [k]),
        }
    }

    fn srandmember(&mut self) -> Command {
        let k = self.set_key();
        if self.chance(25) {
            return Self::cmd("SRANDMEMBER", [k]);
        }
        let count = self.pick(&[
            "-3",
            "-1",
            "0",
            "1",
            "2",
            "3",
            "5",
            "10",
            "1000",
            "-1000",
            "x",
            "-9223372036854775808",
            "9223372036854775807",
            "-9223372036854775807",
        ]);
        if count == "-9223372036854775807" && matches!(self.model.get(&k), Some(Kind::Set(_))) {
            // Redis would build an endless reply; only on keys that are not sets.
            return Self::cmd("SRANDMEMBER", [k, b"-2".to_vec()]);
        }
        let mut args = vec![k, count.as_bytes().to_vec()];
        if self.chance(3) {
            args.push(b"2".to_vec());
        }
        Self::cmd("SRANDMEMBER", args)
    }

    fn spop(&mut self) -> Command {
        let k = self.set_key();
        let size = match self.model.get(&k) {
            Some(Kind::Set(m)) => Some(m.len()),
            _ => None,
        };
        let Some(size) = size else {
            let c = self.pick(&["", "1", "0", "-1", "x", "3", "1 2"]);
            let mut args = vec![k];
            args.extend(c.split(' ').filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()));
            return Self::cmd("SPOP", args);
        };
        let all_ints = self.members(&k).iter().all(|m| crate_parse_i64(m).is_some());
        let (args, random) = match self.rng.random_range(0..5) {
            0 => (vec![k.clone()], size > 1),
            1 => (vec![k.clone(), (size + self.rng.random_range(0..3)).to_string().into_bytes()], false),
            2 => (vec![k.clone(), b"0".to_vec()], false),
            _ => {
                let c = self.rng.random_range(1..=size.max(1));
                (vec![k.clone(), c.to_string().into_bytes()], c < size)
            }
        };
        if random {
            // The pick is random: look at what is deterministic, then drop the key.
            self.pending.push_back(Self::cmd("SCARD", [k.clone()]));
            if args.len() == 1 || all_ints {
                self.pending.push_back(Self::cmd("OBJECT", [b"ENCODING".to_vec(), k.clone()]));
            }
            self.pending.push_back(Self::cmd("DEL", [k]));
        }
        Self::cmd("SPOP", args)
    }

    fn smove(&mut self) -> Command {
        let src = self.set_key();
        let dst = if self.chance(15) { src.clone() } else { self.set_key() };
        let m = self.member_of(&src);
        Self::cmd("SMOVE", [src, dst, m])
    }

    fn combine(&mut self) -> Command {
        let name = self.pick(&["SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
        let mut keys = self.keys(1, 4);
        if self.chance(15) {
            let again = keys[0].clone();
            keys.push(again);
        }
        if name.ends_with("STORE") {
            let dst = if self.chance(20) { keys[0].clone() } else { self.key() };
            keys.insert(0, dst);
        }
        Self::cmd(name, keys)
    }

    fn sintercard(&mut self) -> Command {
        let keys = self.keys(1, 4);
        let numkeys: Vec<u8> = match self.rng.random_range(0..12) {
            0 => b"0".to_vec(),
            1 => b"-1".to_vec(),
            2 => b"x".to_vec(),
            3 => (keys.len() + 1).to_string().into_bytes(),
            4 => b"9223372036854775807".to_vec(),
            _ => keys.len().to_string().into_bytes(),
        };
        let limit: &[&str] = match self.rng.random_range(0..12) {
            0..=4 => &[],
            5 => &["LIMIT", "0"],
            6 => &["limit", "1"],
            7 => &["LIMIT", "2"],
            8 => &["LIMIT", "-1"],
            9 => &["LIMIT", "x"],
            10 => &["LIMIT"],
            _ => &["LIMIT", "1", "FOO"],
        };
        Self::cmd("SINTERCARD", std::iter::once(numkeys).chain(keys).chain(limit.iter().map(|s| s.as_bytes().to_vec())))
    }

    fn sscan(&mut self) -> Command {
        let k = self.set_key();
        let cursor = if self.chance(75) {
            "0"
        } else {
            self.pick(&["1", "5", "17", "100", "-1", "+0", "", "x", "1.5", " 1", "18446744073709551616"])
        };
        let mut args = vec![k, cursor.as_bytes().to_vec()];
        match self.rng.random_range(0..8) {
            0 => {
                let p = self.pick(PATTERNS).to_vec();
                args.extend([b"MATCH".to_vec(), p]);
            }
            1..=2 => {
                let n = self.pick(&["1", "2", "5", "10", "1000"]);
                args.extend([b"COUNT".to_vec(), n.as_bytes().to_vec()]);
            }
            3 => {
                let bad = self.pick(&["COUNT 0", "COUNT -1", "COUNT x", "TYPE set", "MATCH", "FOO bar"]);
                args.extend(bad.split(' ').map(|s| s.as_bytes().to_vec()));
            }
            4 => {
                let p = self.pick(PATTERNS).to_vec();
                args.extend([b"COUNT".to_vec(), b"1000".to_vec(), b"MATCH".to_vec(), p]);
            }
            _ => {}
        }
        Self::cmd("SSCAN", args)
    }

    fn other_types(&mut self) -> Command {
        if self.chance(50) {
            let k = if self.chance(70) { b"str".to_vec() } else { self.key() };
            Self::cmd("SET", [k, b"v".to_vec()])
        } else {
            let k = if self.chance(70) { b"h".to_vec() } else { self.key() };
            Self::cmd("HSET", [k, b"f".to_vec(), b"v".to_vec()])
        }
    }

    fn wrong_arity(&mut self) -> Command {
        let k = self.set_key();
        let forms: &[&[&[u8]]] = &[
            &[b"SADD"],
            &[b"SREM"],
            &[b"SCARD"],
            &[b"SISMEMBER"],
            &[b"SMISMEMBER"],
            &[b"SMEMBERS"],
            &[b"SRANDMEMBER"],
            &[b"SPOP"],
            &[b"SMOVE", b"a"],
            &[b"SINTER"],
            &[b"SINTERCARD", b"1"],
            &[b"SUNIONSTORE", b"d"],
            &[b"SSCAN"],
        ];
        let form = forms[self.rng.random_range(0..forms.len())];
        let mut c: Command = form.iter().map(|a| a.to_vec()).collect();
        if c.len() == 1 && self.chance(50) && !matches!(form[0], b"SINTER" | b"SRANDMEMBER" | b"SPOP" | b"SMEMBERS") {
            c.push(k);
        }
        if form[0] == b"SCARD" && self.chance(50) {
            c.extend([b"a".to_vec(), b"b".to_vec()]);
        }
        c
    }

    /// Interprets `cmd` (named `name`, lowercase) on the model as Redis 7.0 would.
    fn apply(&mut self, name: &str, cmd: &Command) {
        let n = cmd.len();
        let kind = |m: &BTreeMap<Vec<u8>, Kind>, k: &[u8]| m.get(k).cloned();
        match name {
            "sadd" if n >= 3 => match kind(&self.model, &cmd[1]) {
                None | Some(Kind::Set(_)) => {
                    let mut s = self.members(&cmd[1]);
                    s.extend(cmd[2..].iter().cloned());
                    self.model.insert(cmd[1].clone(), Kind::Set(s));
                }
                _ => {}
            },
            "srem" if n >= 3 => {
                if let Some(Kind::Set(mut s)) = kind(&self.model, &cmd[1]) {
                    for m in &cmd[2..] {
                        s.remove(m);
                    }
                    self.put(&cmd[1], s);
                }
            }
            "spop" if n == 2 || n == 3 => {
                let Some(Kind::Set(s)) = kind(&self.model, &cmd[1]) else { return };
                let count =
                    if n == 2 { Some(1) } else { crate_parse_i64(&cmd[2]).and_then(|c| usize::try_from(c).ok()) };
                match count {
                    Some(0) | None => {}
                    Some(c) if c >= s.len() => {
                        self.model.remove(&cmd[1]);
                    }
                    Some(_) => {
                        self.model.insert(cmd[1].clone(), Kind::Unknown);
                    }
                }
            }
            "smove" if n == 4 => {
                let (src, dst, m) = (&cmd[1], &cmd[2], &cmd[3]);
                let Some(Kind::Set(mut s)) = kind(&self.model, src) else { return };
                let d = kind(&self.model, dst);
                if !matches!(d, None | Some(Kind::Set(_))) || src == dst || !s.remove(m) {
                    return;
                }
                self.put(src, s);
                let mut d = self.members(dst);
                d.insert(m.clone());
                self.model.insert(dst.clone(), Kind::Set(d));
            }
            "sinterstore" | "sunionstore" | "sdiffstore" if n >= 3 => {
                let Some(result) = self.combined(&name[..name.len() - 5], &cmd[2..]) else { return };
                self.put(&cmd[1], result);
            }
            "del" if n >= 2 => {
                for k in &cmd[1..] {
                    self.model.remove(k);
                }
            }
            "set" if n == 3 => {
                self.model.insert(cmd[1].clone(), Kind::Str);
            }
            "hset" if n >= 4 && n % 2 == 0 => {
                if matches!(kind(&self.model, &cmd[1]), None | Some(Kind::Hash)) {
                    self.model.insert(cmd[1].clone(), Kind::Hash);
                }
            }
            _ => {}
        }
    }

    /// Stores `s` at `key` (deleting the key when empty).
    fn put(&mut self, key: &[u8], s: Members) {
        if s.is_empty() {
            self.model.remove(key);
        } else {
            self.model.insert(key.to_vec(), Kind::Set(s));
        }
    }

    /// SINTER / SUNION / SDIFF of `keys` in the model; `None` for WRONGTYPE.
    fn combined(&self, op: &str, keys: &[Vec<u8>]) -> Option<Members> {
        let mut sets = Vec::new();
        for k in keys {
            match self.model.get(k) {
                None => sets.push(None),
                Some(Kind::Set(s)) => sets.push(Some(s)),
                Some(_) => return None,
            }
        }
        let empty = Members::new();
        Some(match op {
            "sinter" if sets.iter().any(Option::is_none) => Members::new(),
            "sinter" => {
                let first = sets[0].unwrap_or(&empty);
                first.iter().filter(|m| sets.iter().all(|s| s.is_some_and(|s| s.contains(*m)))).cloned().collect()
            }
            "sunion" => sets.iter().flatten().flat_map(|s| s.iter().cloned()).collect(),
            _ => {
                let first = sets[0].unwrap_or(&empty);
                first.iter().filter(|m| !sets[1..].iter().flatten().any(|s| s.contains(*m))).cloned().collect()
            }
        })
    }
}

fn crate_parse_i64(b: &[u8]) -> Option<i64> {
    // Redis's string2ll: canonical decimal only.
    let s = std::str::from_utf8(b).ok()?;
    let v: i64 = s.parse().ok()?;
    (v.to_string() == s).then_some(v)
}

/// The elements of a flat reply of bulk strings: (is a RESP3 set, elements).
fn elements(f: &Frame) -> Option<(bool, Vec<Vec<u8>>)> {
    let (is_set, items) = match f {
        Frame::Array(Some(v)) => (false, v),
        Frame::Set(v) => (true, v),
        _ => return None,
    };
    let bulks = items.iter().map(|i| if let Frame::Bulk(Some(b)) = i { Some(b.clone()) } else { None });
    Some((is_set, bulks.collect::<Option<Vec<_>>>()?))
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

fn distinct(v: &[Vec<u8>]) -> bool {
    v.iter().collect::<BTreeSet<_>>().len() == v.len()
}

/// Whether two differing replies to `cmd` still agree: set replies compared as multisets
/// (Redis's hashtable order is its own), and the random ones by property against the members
/// the key held when the command was generated (any recent identical command's snapshot).
#[must_use]
pub fn agree(snapshots: &Snapshots, cmd: &Command, ours: &(Frame, Vec<u8>), theirs: &(Frame, Vec<u8>)) -> bool {
    let name = String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase();
    let within = |got: &[Vec<u8>]| {
        snapshots.borrow().iter().rev().any(|(c, seen)| c == cmd && got.iter().all(|m| seen.contains(m)))
    };
    match name.as_str() {
        "SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" => match (elements(&ours.0), elements(&theirs.0)) {
            (Some((a, x)), Some((b, y))) => a == b && sorted(x) == sorted(y),
            _ => false,
        },
        "SRANDMEMBER" | "SPOP" if cmd.len() == 2 => match (&ours.0, &theirs.0) {
            (Frame::Bulk(Some(a)), Frame::Bulk(Some(_))) => within(std::slice::from_ref(a)),
            _ => false,
        },
        "SRANDMEMBER" | "SPOP" => {
            let (Some((a, x)), Some((b, y))) = (elements(&ours.0), elements(&theirs.0)) else { return false };
            let negative = cmd.get(2).is_some_and(|c| c.starts_with(b"-"));
            a == b && x.len() == y.len() && (negative || distinct(&x)) && within(&x)
        }
        "SSCAN" => {
            let parts = |f: &Frame| match f {
                Frame::Array(Some(v)) if v.len() == 2 => match (&v[0], elements(&v[1])) {
                    (Frame::Bulk(Some(c)), Some((false, e))) => Some((c.clone(), e)),
                    _ => None,
                },
                _ => None,
            };
            let (Some((c1, x)), Some((c2, y))) = (parts(&ours.0), parts(&theirs.0)) else { return false };
            // Both done from the start: the same members; otherwise cursors are each server's own.
            let whole = cmd[2] == b"0" && c1 == b"0" && c2 == b"0";
            distinct(&x) && within(&x) && (!whole || sorted(x) == sorted(y))
        }
        _ => false,
    }
}
