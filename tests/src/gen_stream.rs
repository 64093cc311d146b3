//! The seeded generator of stream command streams for `stream_differential` (no consumer groups:
//! those are `gen_stream_groups`), and the agreement rule for the ids Redis leaves to the clock.
//!
//! It owns *what* is sent: XADD with explicit ids (mostly rising, sometimes stale, `0-0`),
//! partial `<ms>-*` ids, NOMKSTREAM, MAXLEN / MINID with `=` / `~` and LIMIT (and their conflicts);
//! XRANGE / XREVRANGE with `-`, `+`, partial and `(`-exclusive bounds and COUNT; XLEN, XDEL,
//! XTRIM, XSETID (ENTRIESADDED, MAXDELETEDID); non-blocking XREAD over one to three streams with
//! `$`, COUNT and ids before, inside and past the streams (and a short BLOCK that times out or is
//! served at once); ids written the odd ways Redis accepts (` 5`, `+5`, `007`, `1--0`) and the ones
//! it refuses; wrong types (a string, a hash), wrong arity, short MULTI/EXEC blocks; a stream grown
//! past many 100-entry nodes with field values of every listpack size, so that `~` trimming
//! depends on node boundaries. Auto ids (`*`) go to one key only, read back only by XLEN and
//! trims, and are compared by shape ([`agree`]). It must stay deterministic for a seed; it does
//! not talk to servers.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::draw::Draw;
use crate::generator::Command;
use crate::resp::Frame;

/// Streams with explicit ids.
const SKEYS: &[&[u8]] = &[b"s0", b"s1", b"s2", b"s\x00\xff"];
/// A stream grown past many nodes.
const BIG: &[u8] = b"big";
/// The one stream that gets `*` ids.
const AUTO: &[u8] = b"auto";
/// A string, a hash and a key nothing creates but a write to it.
const OTHER: &[&[u8]] = &[b"str", b"hash", b"none"];

/// Field names: a few shared ones (same fields as the node's first entry) and odd ones.
const FIELDS: &[&[u8]] = &[b"f", b"f", b"f", b"g", b"name", b"", b"\x00", b"12", b"-7", "поле".as_bytes()];
/// Values of every listpack encoding: small and large integers, short and long strings.
const VALUES: &[&[u8]] = &[
    b"v",
    b"1",
    b"-1",
    b"127",
    b"128",
    b"5000",
    b"-40000",
    b"9000000",
    b"3000000000",
    b"9223372036854775807",
    b"01",
    b"",
    b"\xff\xfe",
    b"a value of some forty bytes, give or take",
    b"a value that is longer than sixty-three bytes so the listpack needs two bytes of length",
];

/// Generates stream command streams for one seed.
#[derive(Debug)]
pub struct StreamGenerator {
    rng: StdRng,
    /// Commands already decided (a MULTI block, a big batch).
    queue: VecDeque<Command>,
    /// The generator's guess at each stream's next millisecond (it never sees replies).
    clock: [u64; 5],
}

impl Draw for StreamGenerator {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

impl StreamGenerator {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), queue: VecDeque::new(), clock: [1; 5] }
    }

    fn cmd(&mut self, name: &str, args: Vec<Vec<u8>>) -> Command {
        let mut c = vec![self.word(name)];
        c.extend(args);
        c
    }

    /// A key: mostly explicit-id streams, sometimes the big one or another type.
    fn key(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=79 => self.pick(SKEYS).to_vec(),
            80..=89 => BIG.to_vec(),
            _ => self.pick(OTHER).to_vec(),
        }
    }

    fn slot(key: &[u8]) -> usize {
        SKEYS.iter().position(|k| *k == key).unwrap_or(4)
    }

    /// An id near the key's range: before, inside or past it, as `ms-seq` or `ms`.
    fn id_near(&mut self, key: &[u8]) -> Vec<u8> {
        let top = self.clock[Self::slot(key)];
        let ms = self.rng.random_range(0..top + 3);
        let id = if self.chance(70) { format!("{ms}-{}", self.rng.random_range(0..3)) } else { ms.to_string() };
        id.into_bytes()
    }

    /// An id argument, usually a good one near the key, sometimes an odd or invalid spelling.
    fn id_arg(&mut self, key: &[u8]) -> Vec<u8> {
        if self.chance(88) {
            return self.id_near(key);
        }
        let odd: &[&str] = &[
            " 5",
            "+5",
            "007",
            "1--0",
            "1--1",
            "5-",
            "-5",
            "1-2-3",
            "abc",
            "",
            "1.5",
            "18446744073709551615",
            "18446744073709551616",
            "0-0",
            "0",
            "-",
            "+",
            "$",
            "5-*",
        ];
        self.pick(odd).as_bytes().to_vec()
    }

    /// An XRANGE bound.
    fn bound(&mut self, key: &[u8], low: bool) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=24 => (if low { "-" } else { "+" }).as_bytes().to_vec(),
            25..=69 => self.id_near(key),
            70..=84 => {
                let mut b = b"(".to_vec();
                b.extend(self.id_near(key));
                b
            }
            _ => {
                let odd: &[&str] = &[
                    "(-",
                    "(+",
                    "(",
                    "+",
                    "-",
                    "(0-0",
                    "(18446744073709551615-18446744073709551615",
                    "((1",
                    "x",
                    "(1-x",
                ];
                self.pick(odd).as_bytes().to_vec()
            }
        }
    }

    fn pairs(&mut self, args: &mut Vec<Vec<u8>>) {
        let n = match self.rng.random_range(0..10) {
            0..=5 => 1,
            6..=8 => 2,
            _ => 3,
        };
        for _ in 0..n {
            args.push(self.pick(FIELDS).to_vec());
            args.push(self.pick(VALUES).to_vec());
        }
    }

    /// The next command.
    pub fn next_command(&mut self) -> Command {
        if let Some(c) = self.queue.pop_front() {
            return c;
        }
        match self.rng.random_range(0..1000) {
            0..=249 => self.xadd(),
            250..=299 => self.xadd_auto(),
            300..=449 => self.range(),
            450..=489 => {
                let k = self.key();
                self.cmd("XLEN", vec![k])
            }
            490..=559 => self.xdel(),
            560..=619 => self.xtrim(),
            620..=649 => self.xsetid(),
            650..=759 => self.xread(),
            760..=779 => self.big(),
            780..=809 => self.setup_other(),
            810..=839 => self.keyspace(),
            840..=869 => self.multi(),
            _ => self.wrong_arity(),
        }
    }

    /// The trimming options (or none) of XADD and XTRIM; `needed` always adds one.
    fn trim_opts(&mut self, key: &[u8], args: &mut Vec<Vec<u8>>, needed: bool) {
        if !needed && self.chance(60) {
            if self.chance(5) {
                let w = self.word("LIMIT");
                args.extend([w, b"5".to_vec()]);
            }
            return;
        }
        let minid = self.chance(35);
        args.push(self.word(if minid { "MINID" } else { "MAXLEN" }));
        let approx = match self.rng.random_range(0..3) {
            0 => None,
            1 => Some(b"=".to_vec()),
            _ => Some(b"~".to_vec()),
        };
        let tilde = approx.as_deref() == Some(b"~");
        args.extend(approx);
        if minid {
            let id = self.id_arg(key);
            args.push(id);
        } else {
            let n: &[&str] = &["0", "1", "2", "3", "5", "10", "50", "99", "100", "150", "250", "-1", "x", "1.5"];
            args.push(self.pick(n).as_bytes().to_vec());
        }
        if self.chance(if tilde { 40 } else { 8 }) {
            let l: &[&str] = &["0", "1", "50", "100", "200", "-1", "y"];
            let w = self.word("LIMIT");
            args.extend([w, self.pick(l).as_bytes().to_vec()]);
        }
        if self.chance(3) {
            let w = self.word("MAXLEN");
            args.extend([w, b"1".to_vec()]);
        }
    }

    fn xadd(&mut self) -> Command {
        let k = self.key();
        let slot = Self::slot(&k);
        let mut args = vec![k.clone()];
        if self.chance(10) {
            args.push(self.word("NOMKSTREAM"));
        }
        self.trim_opts(&k, &mut args, false);
        let id = match self.rng.random_range(0..100) {
            0..=64 => {
                self.clock[slot] += self.rng.random_range(0..3);
                let seq = self.rng.random_range(0..4);
                format!("{}-{seq}", self.clock[slot]).into_bytes()
            }
            65..=79 => {
                if self.chance(50) {
                    self.clock[slot] += 1;
                }
                format!("{}-*", self.clock[slot]).into_bytes()
            }
            80..=89 => {
                self.clock[slot] += 1;
                self.clock[slot].to_string().into_bytes()
            }
            _ => self.id_arg(&k),
        };
        args.push(id);
        self.pairs(&mut args);
        if self.chance(3) {
            args.pop();
        }
        self.cmd("XADD", args)
    }

    /// XADD with `*` to the auto key (its ids are the clock's; see [`agree`]).
    fn xadd_auto(&mut self) -> Command {
        let mut args = vec![AUTO.to_vec()];
        if self.chance(30) {
            let w = self.word("MAXLEN");
            let n: &[&str] = &["5", "50", "150"];
            args.extend([w, b"~".to_vec(), self.pick(n).as_bytes().to_vec()]);
        }
        // Small entries only: the node boundaries stay those of the 100-entry rule, whatever the
        // clock put in the ids.
        args.extend([b"*".to_vec(), b"f".to_vec(), b"v".to_vec()]);
        if self.chance(10) {
            return self.cmd("XLEN", vec![AUTO.to_vec()]);
        }
        self.cmd("XADD", args)
    }

    fn range(&mut self) -> Command {
        let k = self.key();
        let rev = self.chance(40);
        let (lo, hi) = (self.bound(&k, true), self.bound(&k, false));
        let mut args = if rev { vec![k, hi, lo] } else { vec![k, lo, hi] };
        if self.chance(50) {
            let n: &[&str] = &["1", "2", "3", "10", "0", "-1", "x", "100"];
            let w = self.word("COUNT");
            args.extend([w, self.pick(n).as_bytes().to_vec()]);
        }
        if self.chance(3) {
            args.push(b"COUNT".to_vec());
        }
        self.cmd(if rev { "XREVRANGE" } else { "XRANGE" }, args)
    }

    fn xdel(&mut self) -> Command {
        let k = self.key();
        let mut args = vec![k.clone()];
        for _ in 0..self.rng.random_range(1..5) {
            let id = self.id_arg(&k);
            args.push(id);
        }
        self.cmd("XDEL", args)
    }

    fn xtrim(&mut self) -> Command {
        let k = if self.chance(15) { AUTO.to_vec() } else { self.key() };
        let mut args = vec![k.clone()];
        let needed = !self.chance(5);
        self.trim_opts(&k, &mut args, needed);
        if self.chance(3) {
            args.push(b"junk".to_vec());
        }
        self.cmd("XTRIM", args)
    }

    fn xsetid(&mut self) -> Command {
        let k = self.key();
        let slot = Self::slot(&k);
        let mut args = vec![k.clone()];
        let id = if self.chance(60) {
            self.clock[slot] += self.rng.random_range(0..2);
            format!("{}-{}", self.clock[slot], self.rng.random_range(0..5)).into_bytes()
        } else {
            self.id_arg(&k)
        };
        args.push(id);
        if self.chance(40) {
            let n: &[&str] = &["0", "1", "5", "100", "-1", "x"];
            let w = self.word("ENTRIESADDED");
            args.extend([w, self.pick(n).as_bytes().to_vec()]);
        }
        if self.chance(40) {
            let w = self.word("MAXDELETEDID");
            let id = self.id_arg(&k);
            args.extend([w, id]);
        }
        if self.chance(3) {
            args.push(b"junk".to_vec());
        }
        self.cmd("XSETID", args)
    }

    fn xread(&mut self) -> Command {
        let mut args = Vec::new();
        if self.chance(50) {
            let n: &[&str] = &["1", "2", "5", "0", "-3", "x"];
            let w = self.word("COUNT");
            args.extend([w, self.pick(n).as_bytes().to_vec()]);
        }
        if self.chance(8) {
            // A short wait: served at once when there is data, nil after 10 ms otherwise.
            let t: &[&str] = &["10", "-1", "x"];
            let w = self.word("BLOCK");
            args.extend([w, self.pick(t).as_bytes().to_vec()]);
        }
        if self.chance(3) {
            args.push(b"junk".to_vec());
        }
        args.push(self.word("STREAMS"));
        let n = self.rng.random_range(1..4);
        let keys: Vec<Vec<u8>> = (0..n).map(|_| self.key()).collect();
        args.extend(keys.iter().cloned());
        for k in &keys {
            let id = match self.rng.random_range(0..10) {
                0..=1 => b"$".to_vec(),
                2 => b"0".to_vec(),
                _ => self.id_arg(k),
            };
            args.push(id);
        }
        if self.chance(3) {
            args.pop();
        }
        self.cmd("XREAD", args)
    }

    /// A batch of XADDs to the big stream (one to two nodes' worth), then a trim or a read.
    fn big(&mut self) -> Command {
        let n = self.rng.random_range(50..160);
        for _ in 0..n {
            self.clock[4] += self.rng.random_range(0..2);
            let id = format!("{}-{}", self.clock[4], self.rng.random_range(0..3)).into_bytes();
            let mut args = vec![BIG.to_vec(), id];
            self.pairs(&mut args);
            let c = self.cmd("XADD", args);
            self.queue.push_back(c);
        }
        let w = self.word("MAXLEN");
        let keep: &[&str] = &["10", "100", "150", "250", "400"];
        let n = self.pick(keep).as_bytes().to_vec();
        let c = self.cmd("XTRIM", vec![BIG.to_vec(), w, b"~".to_vec(), n]);
        self.queue.push_back(c);
        self.cmd("XLEN", vec![BIG.to_vec()])
    }

    fn setup_other(&mut self) -> Command {
        if self.chance(50) {
            self.cmd("SET", vec![b"str".to_vec(), b"x".to_vec()])
        } else {
            self.cmd("HSET", vec![b"hash".to_vec(), b"f".to_vec(), b"v".to_vec()])
        }
    }

    fn keyspace(&mut self) -> Command {
        let k = if self.chance(20) { AUTO.to_vec() } else { self.key() };
        match self.rng.random_range(0..4) {
            0 => self.cmd("TYPE", vec![k]),
            1 => self.cmd("EXISTS", vec![k]),
            2 if self.chance(30) => self.cmd("DEL", vec![k]),
            _ => self.cmd("OBJECT", vec![b"ENCODING".to_vec(), k]),
        }
    }

    /// MULTI, two or three stream commands (XREAD BLOCK replies nil at once), EXEC.
    fn multi(&mut self) -> Command {
        let n = self.rng.random_range(2..4);
        for _ in 0..n {
            let c = match self.rng.random_range(0..4) {
                0 => self.xadd(),
                1 => self.range(),
                2 => {
                    let k = self.key();
                    let w = self.word("BLOCK");
                    let s = self.word("STREAMS");
                    self.cmd("XREAD", vec![w, b"0".to_vec(), s, k, b"$".to_vec()])
                }
                _ => self.xtrim(),
            };
            self.queue.push_back(c);
        }
        let exec = self.cmd("EXEC", vec![]);
        self.queue.push_back(exec);
        self.cmd("MULTI", vec![])
    }

    fn wrong_arity(&mut self) -> Command {
        let cases: &[(&str, usize)] = &[
            ("XADD", 0),
            ("XADD", 1),
            ("XADD", 2),
            ("XADD", 3),
            ("XLEN", 0),
            ("XLEN", 2),
            ("XRANGE", 2),
            ("XREVRANGE", 1),
            ("XDEL", 1),
            ("XTRIM", 2),
            ("XREAD", 2),
            ("XREAD", 1),
            ("XSETID", 1),
        ];
        let (name, n) = cases[self.rng.random_range(0..cases.len())];
        let args = (0..n).map(|i| if i == 0 { b"s0".to_vec() } else { b"1".to_vec() }).collect();
        self.cmd(name, args)
    }
}

fn name_of(cmd: &Command) -> String {
    String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase()
}

fn is_id(f: &Frame) -> bool {
    match f {
        Frame::Bulk(Some(b)) => {
            let s = String::from_utf8_lossy(b);
            s.split_once('-').is_some_and(|(ms, seq)| ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok())
        }
        _ => false,
    }
}

/// Replies that may differ between the servers yet agree: the id XADD `*` made (the clock's) is
/// compared by shape.
#[must_use]
pub fn agree(cmd: &Command, ours: &Frame, theirs: &Frame) -> bool {
    name_of(cmd) == "XADD" && cmd.get(1).is_some_and(|k| k == AUTO) && is_id(ours) && is_id(theirs)
}
