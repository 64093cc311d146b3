//! The seeded generator of consumer-group command streams for `stream_groups_differential`, and
//! the agreement rule for the replies that carry clock readings.
//!
//! It owns *what* is sent: XADD with explicit, increasing ids (so both servers store the same
//! entries), XDEL and XTRIM to leave deleted entries in PELs, XSETID moving the counters the lag
//! is computed from, every XGROUP subcommand (MKSTREAM,
//! ENTRIESREAD, `$`), XREADGROUP (`>`, history ids, COUNT, NOACK, short BLOCKs, several keys),
//! XACK, XPENDING (summary, extended, IDLE, consumer filter), XCLAIM (IDLE, TIME, RETRYCOUNT,
//! FORCE, JUSTID, LASTID), XAUTOCLAIM (COUNT, JUSTID, exclusive starts) and XINFO, with malformed
//! ids, unknown options, wrong types, missing keys and groups, wrong arity, and short MULTI/EXEC
//! blocks. Idle-time thresholds are 0 or far beyond the run's length (and claimed idle times far
//! beyond them), so no comparison depends on how many milliseconds passed. It must stay
//! deterministic for a seed; it does not talk to servers.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::draw::Draw;
use crate::generator::Command;
use crate::resp::Frame;

/// Stream keys.
const SKEYS: &[&[u8]] = &[b"s0", b"s1", b"s\x00\xff"];
/// A string (WRONGTYPE) and a key nothing but MKSTREAM creates.
const OTHER: &[&[u8]] = &[b"str", b"nokey"];
/// Group names (error texts quote them, and ours are UTF-8 text: no invalid bytes here).
const GROUPS: &[&[u8]] = &[b"g0", b"g1", "g é x".as_bytes()];
/// Consumer names.
const CONSUMERS: &[&[u8]] = &[b"c0", b"c1", b"c2", "потребитель".as_bytes()];
/// Ids that are not the stream's: edges and malformed ones.
const ODD_IDS: &[&str] = &[
    "0",
    "0-0",
    "0-1",
    "1",
    "-",
    "+",
    "$",
    ">",
    "abc",
    "1-",
    "-1",
    "1-x",
    "",
    " 1",
    "+5",
    "18446744073709551615-18446744073709551615",
    "18446744073709551616",
    "99999999999-0",
];
/// Minimum idle times: 0, negative, or far beyond the run (never a value near elapsed times).
const MIN_IDLE: &[&str] = &["0", "-5", "3600000", "abc", "0"];
/// Idle times XCLAIM may set: 0 or beyond the larger threshold above.
const SET_IDLE: &[&str] = &["0", "100000000", "x", "-100"];

/// Generates consumer-group command streams for one seed.
#[derive(Debug)]
pub struct GroupsGenerator {
    rng: StdRng,
    /// Per stream key: ids added (the last is the greatest), for ids that hit entries.
    ids: Vec<Vec<(u64, u64)>>,
    queue: VecDeque<Command>,
}

impl Draw for GroupsGenerator {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

impl GroupsGenerator {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), ids: vec![Vec::new(); SKEYS.len()], queue: VecDeque::new() }
    }

    fn cmd(&mut self, words: &[&str], args: Vec<Vec<u8>>) -> Command {
        let mut c: Command = words.iter().map(|w| self.word(w)).collect();
        c.extend(args);
        c
    }

    fn key_index(&mut self) -> usize {
        self.rng.random_range(0..SKEYS.len())
    }

    /// Mostly a stream key, sometimes another.
    fn key(&mut self) -> Vec<u8> {
        if self.chance(92) { self.pick(SKEYS).to_vec() } else { self.pick(OTHER).to_vec() }
    }

    fn group(&mut self) -> Vec<u8> {
        if self.chance(95) { self.pick(GROUPS).to_vec() } else { b"nogroup".to_vec() }
    }

    fn consumer(&mut self) -> Vec<u8> {
        self.pick(CONSUMERS).to_vec()
    }

    /// An id of `key`'s entries (often one that exists), or an odd one.
    fn id_of(&mut self, key: &[u8]) -> Vec<u8> {
        let known = SKEYS.iter().position(|k| *k == key).map(|i| self.ids[i].clone()).unwrap_or_default();
        if !known.is_empty() && self.chance(85) {
            let (ms, seq) = known[self.rng.random_range(0..known.len())];
            return format!("{ms}-{seq}").into_bytes();
        }
        self.pick(ODD_IDS).as_bytes().to_vec()
    }

    /// A group start for CREATE / SETID.
    fn start_id(&mut self, key: &[u8]) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0..=3 => b"0".to_vec(),
            4..=5 => b"$".to_vec(),
            _ => self.id_of(key),
        }
    }

    /// Returns the next command.
    pub fn next_command(&mut self) -> Command {
        if let Some(c) = self.queue.pop_front() {
            return c;
        }
        match self.rng.random_range(0..1000) {
            0..=199 => self.xadd(),
            200..=299 => self.xgroup(),
            300..=479 => self.xreadgroup(),
            480..=559 => self.xack(),
            560..=639 => self.xpending(),
            640..=719 => self.xclaim(),
            720..=789 => self.xautoclaim(),
            790..=879 => self.xinfo(),
            880..=904 => self.delete_entries(),
            905..=919 => self.xsetid(),
            920..=939 => self.keyspace(),
            940..=959 => self.multi(),
            _ => self.wrong_arity(),
        }
    }

    fn xadd(&mut self) -> Command {
        let i = self.key_index();
        let (ms, seq) = self.ids[i].last().copied().unwrap_or((0, 0));
        let next = if self.chance(60) { (ms + self.rng.random_range(1..4), 0) } else { (ms, seq + 1) };
        self.ids[i].push(next);
        let mut args = vec![SKEYS[i].to_vec(), format!("{}-{}", next.0, next.1).into_bytes()];
        for f in 0..self.rng.random_range(1..3) {
            args.push(format!("f{f}").into_bytes());
            args.push(format!("v{}", self.rng.random_range(0..100)).into_bytes());
        }
        self.cmd(&["XADD"], args)
    }

    fn xgroup(&mut self) -> Command {
        let (key, group) = (self.key(), self.group());
        match self.rng.random_range(0..100) {
            0..=39 => {
                let mut args = vec![key.clone(), group, self.start_id(&key)];
                if self.chance(40) {
                    args.push(self.word("MKSTREAM"));
                }
                if self.chance(20) {
                    args.push(self.word("ENTRIESREAD"));
                    let n = ["0", "1", "3", "-1", "-2", "x", "100"][self.rng.random_range(0..7)];
                    args.push(n.as_bytes().to_vec());
                }
                if self.chance(3) {
                    args.push(b"bogus".to_vec());
                }
                self.cmd(&["XGROUP", "CREATE"], args)
            }
            40..=54 => {
                let mut args = vec![key.clone(), group, self.start_id(&key)];
                if self.chance(30) {
                    args.push(self.word("ENTRIESREAD"));
                    args.push(["0", "2", "-1", "-3"][self.rng.random_range(0..4)].as_bytes().to_vec());
                }
                if self.chance(5) {
                    args.push(self.word("MKSTREAM"));
                }
                self.cmd(&["XGROUP", "SETID"], args)
            }
            55..=62 => self.cmd(&["XGROUP", "DESTROY"], vec![key, group]),
            63..=79 => {
                let c = self.consumer();
                self.cmd(&["XGROUP", "CREATECONSUMER"], vec![key, group, c])
            }
            80..=91 => {
                let c = self.consumer();
                self.cmd(&["XGROUP", "DELCONSUMER"], vec![key, group, c])
            }
            92..=94 => self.cmd(&["XGROUP", "HELP"], vec![]),
            _ => self.cmd(&["XGROUP", "NOSUCH"], vec![key, group]),
        }
    }

    fn xreadgroup(&mut self) -> Command {
        let mut args = Vec::new();
        let (group, consumer) = (self.group(), self.consumer());
        if !self.chance(3) {
            args.extend([self.word("GROUP"), group, consumer]);
        }
        if self.chance(40) {
            args.push(self.word("COUNT"));
            args.push(["1", "2", "3", "0", "-1", "x"][self.rng.random_range(0..6)].as_bytes().to_vec());
        }
        if self.chance(15) {
            args.push(self.word("NOACK"));
        }
        if self.chance(8) {
            args.push(self.word("BLOCK"));
            args.push(["5", "10", "-1", "x"][self.rng.random_range(0..4)].as_bytes().to_vec());
        }
        if self.chance(2) {
            args.push(b"BOGUS".to_vec());
        }
        args.push(self.word("STREAMS"));
        let n = if self.chance(20) { 2 } else { 1 };
        let keys: Vec<Vec<u8>> = (0..n).map(|_| self.key()).collect();
        let mut ids = Vec::new();
        for k in &keys {
            ids.push(match self.rng.random_range(0..10) {
                0..=5 => b">".to_vec(),
                6..=7 => b"0".to_vec(),
                _ => self.id_of(k),
            });
        }
        args.extend(keys);
        if self.chance(3) {
            ids.pop();
        }
        args.extend(ids);
        self.cmd(&["XREADGROUP"], args)
    }

    fn xack(&mut self) -> Command {
        let (key, group) = (self.key(), self.group());
        let mut args = vec![key.clone(), group];
        for _ in 0..self.rng.random_range(1..4) {
            args.push(self.id_of(&key));
        }
        self.cmd(&["XACK"], args)
    }

    fn xpending(&mut self) -> Command {
        let (key, group) = (self.key(), self.group());
        let mut args = vec![key.clone(), group];
        if self.chance(30) {
            return self.cmd(&["XPENDING"], args);
        }
        if self.chance(25) {
            args.push(self.word("IDLE"));
            args.push(self.pick(MIN_IDLE).as_bytes().to_vec());
        }
        let bounds = [b"-".to_vec(), b"+".to_vec(), self.id_of(&key), b"(0-1".to_vec(), b"(".to_vec()];
        args.push(if self.chance(60) { b"-".to_vec() } else { bounds[self.rng.random_range(0..5)].clone() });
        args.push(if self.chance(60) { b"+".to_vec() } else { bounds[self.rng.random_range(0..5)].clone() });
        args.push(["10", "1", "2", "0", "-1", "x"][self.rng.random_range(0..6)].as_bytes().to_vec());
        if self.chance(30) {
            args.push(self.consumer());
        }
        if self.chance(3) {
            args.push(b"extra".to_vec());
        }
        self.cmd(&["XPENDING"], args)
    }

    fn xclaim(&mut self) -> Command {
        let (key, group, consumer) = (self.key(), self.group(), self.consumer());
        let mut args = vec![key.clone(), group, consumer, self.pick(MIN_IDLE).as_bytes().to_vec()];
        for _ in 0..self.rng.random_range(1..4) {
            args.push(self.id_of(&key));
        }
        for _ in 0..self.rng.random_range(0..3) {
            match self.rng.random_range(0..8) {
                0 => args.push(self.word("FORCE")),
                1 => args.push(self.word("JUSTID")),
                2 => {
                    args.push(self.word("IDLE"));
                    args.push(self.pick(SET_IDLE).as_bytes().to_vec());
                }
                3 => {
                    args.push(self.word("TIME"));
                    args.push(
                        ["1000", "0", "-1", "99999999999999", "x"][self.rng.random_range(0..5)].as_bytes().to_vec(),
                    );
                }
                4 => {
                    args.push(self.word("RETRYCOUNT"));
                    args.push(["0", "5", "-1", "x"][self.rng.random_range(0..4)].as_bytes().to_vec());
                }
                5 => {
                    args.push(self.word("LASTID"));
                    let id = self.id_of(&key);
                    args.push(id);
                }
                6 => args.push(b"BOGUS".to_vec()),
                _ => args.push(self.word("IDLE")),
            }
        }
        self.cmd(&["XCLAIM"], args)
    }

    fn xautoclaim(&mut self) -> Command {
        let (key, group, consumer) = (self.key(), self.group(), self.consumer());
        let start = match self.rng.random_range(0..10) {
            0..=4 => b"0".to_vec(),
            5 => b"-".to_vec(),
            6 => b"(0-1".to_vec(),
            _ => self.id_of(&key),
        };
        let mut args = vec![key, group, consumer, self.pick(MIN_IDLE).as_bytes().to_vec(), start];
        if self.chance(50) {
            args.push(self.word("COUNT"));
            args.push(["1", "2", "3", "0", "-1", "x", "100"][self.rng.random_range(0..7)].as_bytes().to_vec());
        }
        if self.chance(30) {
            args.push(self.word("JUSTID"));
        }
        if self.chance(3) {
            args.push(b"BOGUS".to_vec());
        }
        self.cmd(&["XAUTOCLAIM"], args)
    }

    fn xinfo(&mut self) -> Command {
        let key = self.key();
        match self.rng.random_range(0..100) {
            0..=29 => {
                let mut args = vec![key];
                match self.rng.random_range(0..6) {
                    0..=1 => {}
                    2..=3 => args.push(self.word("FULL")),
                    4 => {
                        args.push(self.word("FULL"));
                        args.push(self.word("COUNT"));
                        args.push(["0", "1", "2", "-1", "x"][self.rng.random_range(0..5)].as_bytes().to_vec());
                    }
                    _ => args.push(b"bogus".to_vec()),
                }
                self.cmd(&["XINFO", "STREAM"], args)
            }
            30..=59 => self.cmd(&["XINFO", "GROUPS"], vec![key]),
            60..=94 => {
                let g = self.group();
                self.cmd(&["XINFO", "CONSUMERS"], vec![key, g])
            }
            95..=97 => self.cmd(&["XINFO", "HELP"], vec![]),
            _ => self.cmd(&["XINFO", "NOSUCH"], vec![key]),
        }
    }

    /// XDEL or XTRIM: entries disappear while their ids stay pending.
    fn delete_entries(&mut self) -> Command {
        let key = self.pick(SKEYS).to_vec();
        if self.chance(70) {
            let mut args = vec![key.clone()];
            for _ in 0..self.rng.random_range(1..3) {
                args.push(self.id_of(&key));
            }
            self.cmd(&["XDEL"], args)
        } else {
            let n = self.rng.random_range(0..6).to_string().into_bytes();
            let maxlen = self.word("MAXLEN");
            self.cmd(&["XTRIM"], vec![key, maxlen, n])
        }
    }

    /// XSETID at the stream's last id, with counters that move the groups' lag arithmetic (an
    /// invalid one now and then is refused by both).
    fn xsetid(&mut self) -> Command {
        let i = self.key_index();
        let (ms, seq) = self.ids[i].last().copied().unwrap_or((0, 0));
        let mut args = vec![SKEYS[i].to_vec(), format!("{ms}-{seq}").into_bytes()];
        if self.chance(60) {
            args.push(self.word("ENTRIESADDED"));
            let n = self.ids[i].len() + self.rng.random_range(0..4);
            args.push(n.to_string().into_bytes());
        }
        if self.chance(50) {
            args.push(self.word("MAXDELETEDID"));
            let id = self.id_of(SKEYS[i]);
            args.push(id);
        }
        self.cmd(&["XSETID"], args)
    }

    fn keyspace(&mut self) -> Command {
        match self.rng.random_range(0..10) {
            0..=3 => self.cmd(&["SET"], vec![b"str".to_vec(), b"v".to_vec()]),
            4..=5 => {
                let k = self.key();
                self.cmd(&["DEL"], vec![k])
            }
            6..=7 => {
                let k = self.key();
                self.cmd(&["TYPE"], vec![k])
            }
            _ => {
                let k = self.pick(SKEYS).to_vec();
                self.cmd(&["XLEN"], vec![k])
            }
        }
    }

    /// A short MULTI/EXEC block of group commands (XREADGROUP BLOCK in it replies at once).
    fn multi(&mut self) -> Command {
        for _ in 0..self.rng.random_range(1..4) {
            let c = match self.rng.random_range(0..4) {
                0 => self.xreadgroup(),
                1 => self.xack(),
                2 => self.xclaim(),
                _ => self.xadd(),
            };
            self.queue.push_back(c);
        }
        self.queue.push_back(vec![b"EXEC".to_vec()]);
        vec![b"MULTI".to_vec()]
    }

    fn wrong_arity(&mut self) -> Command {
        let key = self.key();
        match self.rng.random_range(0..8) {
            0 => self.cmd(&["XACK"], vec![key, b"g0".to_vec()]),
            1 => self.cmd(&["XPENDING"], vec![key]),
            2 => self.cmd(&["XPENDING"], vec![key, b"g0".to_vec(), b"-".to_vec()]),
            3 => self.cmd(&["XCLAIM"], vec![key, b"g0".to_vec(), b"c0".to_vec(), b"0".to_vec()]),
            4 => self.cmd(&["XAUTOCLAIM"], vec![key, b"g0".to_vec(), b"c0".to_vec(), b"0".to_vec()]),
            5 => self.cmd(&["XGROUP", "DESTROY"], vec![key]),
            6 => self.cmd(&["XINFO", "GROUPS"], vec![key, b"x".to_vec()]),
            _ => {
                self.cmd(&["XREADGROUP"], vec![b"GROUP".to_vec(), b"g0".to_vec(), b"c0".to_vec(), b"STREAMS".to_vec()])
            }
        }
    }
}

/// Agreement for replies that carry clock readings, which differ by the milliseconds between the
/// two servers running the command: XPENDING's idle times, XINFO CONSUMERS' idle, XINFO STREAM
/// FULL's seen and delivery times (within [`CLOCK_SLACK_MS`]), and the layout figures of XINFO
/// STREAM (`radix-tree-keys`, `radix-tree-nodes`: any integer). Everything else must be equal.
#[must_use]
pub fn agree(cmd: &Command, ours: &Frame, theirs: &Frame) -> bool {
    let name = |i: usize| cmd.get(i).map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let rule = match (&name(0)[..], &name(1)[..]) {
        (b"XPENDING", _) => Rule::Pending,
        (b"XINFO", b"CONSUMERS" | b"STREAM") => Rule::Info,
        _ => return false,
    };
    same(ours, theirs, rule, Field::Other)
}

/// How far two clock readings of the same event may be apart.
pub const CLOCK_SLACK_MS: i64 = 3000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    Pending,
    Info,
}

/// What the value being compared is, from the key before it or its place in a row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Time,
    Layout,
    Other,
}

fn field_after(key: &Frame) -> Field {
    match key {
        Frame::Bulk(Some(k)) => match &k[..] {
            b"idle" | b"seen-time" => Field::Time,
            b"radix-tree-keys" | b"radix-tree-nodes" => Field::Layout,
            _ => Field::Other,
        },
        _ => Field::Other,
    }
}

fn same(a: &Frame, b: &Frame, rule: Rule, field: Field) -> bool {
    match (a, b) {
        (Frame::Integer(x), Frame::Integer(y)) => {
            x == y
                || field == Field::Layout
                || (field == Field::Time && (x - y).abs() <= CLOCK_SLACK_MS)
                // Absolute delivery times in XINFO STREAM FULL's pending rows.
                || (rule == Rule::Info && *x > 1_000_000_000_000 && (x - y).abs() <= CLOCK_SLACK_MS)
        }
        (Frame::Array(Some(x)), Frame::Array(Some(y))) | (Frame::Set(x), Frame::Set(y)) => {
            if x.len() != y.len() {
                return false;
            }
            // XPENDING's extended rows: [id, consumer, idle, deliveries].
            let row = rule == Rule::Pending && x.len() == 4 && matches!(x[1], Frame::Bulk(Some(_)));
            let mut prev: Option<&Frame> = None;
            x.iter().zip(y).enumerate().all(|(i, (p, q))| {
                let f = if row && i == 2 { Field::Time } else { prev.map_or(Field::Other, field_after) };
                prev = Some(p);
                same(p, q, rule, f)
            })
        }
        (Frame::Map(x), Frame::Map(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2, rule, field_after(k1)))
        }
        _ => a == b,
    }
}
