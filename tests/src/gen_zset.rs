//! The seeded generator of sorted-set command streams for `zset_differential`, and the agreement
//! rule for the replies Redis leaves to chance.
//!
//! It owns *what* is sent: every sorted-set command with valid and invalid option mixes (ZADD's
//! NX/XX/GT/LT/CH/INCR and their conflicts, BYSCORE/BYLEX/REV/LIMIT/WITHSCORES, WEIGHTS of the
//! wrong count, AGGREGATE, numkeys errors), edge scores (`inf`, `-inf`, `-0`, `1e300`, `0.1`,
//! `1e-310`, hex floats, `nan`, `1e`, `1e400`, spaces), exclusive and malformed bounds, binary-safe
//! members (NUL, non-UTF-8, empty, longer than `zset-max-listpack-value`), wrong types (a string, a
//! hash, and a set when the server under test has SADD), wrong arity, short MULTI/EXEC blocks, and
//! sorted sets pushed past the listpack thresholds (and, with [`Options::thresholds`], CONFIG SET
//! of the thresholds themselves). Lexicographic commands only touch keys whose scores are all 0,
//! where Redis defines them. Blocking commands use short timeouts (Redis really waits). It must
//! stay deterministic for a seed; it does not talk to servers.

use std::collections::VecDeque;
use std::net::SocketAddr;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::draw::Draw;
use crate::generator::Command;
use crate::resp::{Frame, RawConn};

/// What a stream may contain beyond the sorted-set commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Sets as inputs of ZUNION & co. (the server under test has SADD).
    pub sets: bool,
    /// OBJECT ENCODING checks (the server under test has OBJECT).
    pub object: bool,
    /// CONFIG SET of `zset-max-listpack-entries` / `-value` now and then (both servers follow).
    pub thresholds: bool,
}

/// Sorted sets with any scores.
const ZKEYS: &[&[u8]] = &[b"z0", b"z1", b"z2", b"z\x00\xff"];
/// Sorted sets whose scores are all 0 (lexicographic commands).
const LKEYS: &[&[u8]] = &[b"l0", b"l1"];
/// Sorted sets grown past the listpack thresholds.
const BKEYS: &[&[u8]] = &[b"b0", b"b1"];
/// A string, a hash, a set (with [`Options::sets`]) and a key nothing creates but a write to it.
const OTHER: &[&[u8]] = &[b"str", b"hash", b"set", b"none"];
/// A string that only SET writes: the wrong type of the lexicographic commands.
const LEX_WRONG: &[u8] = b"lexwrong";

/// Members: short, binary, empty, multi-byte, and one longer than 64 bytes.
const MEMBERS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"d",
    b"e",
    b"m1",
    b"m10",
    b"",
    b"\x00",
    b"\xff\xfe",
    b"x y",
    "член".as_bytes(),
    b"element:000000000042",
    b"a-member-that-is-longer-than-sixty-four-bytes-so-it-breaks-the-listpack-value-limit",
];

/// Scores as a client would send them, valid and not.
const SCORES: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "3",
    "1.5",
    "-2.5",
    "0.1",
    "0.2",
    "0.30000000000000004",
    "1e300",
    "-1e300",
    "inf",
    "-inf",
    "+inf",
    "Infinity",
    "-INF",
    "1e-310",
    "0x10",
    "0x1p-3",
    "5e-324",
    "1.7976931348623157e308",
    "007",
    "+1",
    "3.0",
    "nan",
    "1e",
    "",
    " 1",
    "1 ",
    "1e400",
    "1e-400",
    "abc",
    "1_0",
    "--1",
    "0x",
];

/// Increments that keep sums exact, plus edges.
const INCRS: &[&str] = &["1", "-1", "0.5", "2", "-0.25", "0", "-0", "inf", "-inf", "1e300", "nan", "x"];

/// Score range bounds (ZRANGEBYSCORE, ZCOUNT, ZREMRANGEBYSCORE), valid and not.
const SCORE_BOUNDS: &[&str] = &[
    "-inf", "+inf", "inf", "0", "1", "2", "(1", "(2", "1.5", "(1.5", "-1", "(-inf", "(+inf", "(", "", " 2", "(0x1",
    "1e400", "-0", "(0", "nan", "(nan", "[1", "abc", "1)", "2 ",
];

/// Lexicographic bounds, valid and not.
const LEX_BOUNDS: &[&[u8]] =
    &[b"-", b"+", b"[a", b"(a", b"[c", b"(c", b"[m1", b"(e", b"[", b"(", b"[\x00", b"a", b"+x", b"-a", b"[\xff", b""];

/// Rank arguments.
const RANKS: &[&str] = &["0", "1", "2", "-1", "-2", "-100", "100", "3", "x", "1.5", "-0"];

/// Blocking timeouts: short real waits and invalid ones (never 0: Redis would wait for ever).
const TIMEOUTS: &[&str] = &["0.01", "0.02", "-1", "abc", "-0.5"];

/// Generates sorted-set command streams for one seed.
#[derive(Debug)]
pub struct ZsetGenerator {
    rng: StdRng,
    opts: Options,
    /// Commands already decided (a MULTI block, a big ZADD).
    queue: VecDeque<Command>,
}

impl Draw for ZsetGenerator {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

impl ZsetGenerator {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64, opts: Options) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), opts, queue: VecDeque::new() }
    }

    fn name(&mut self, name: &str) -> Vec<u8> {
        if self.chance(25) { name.to_ascii_lowercase().into_bytes() } else { name.as_bytes().to_vec() }
    }

    fn cmd(&mut self, name: &str, args: Vec<Vec<u8>>) -> Command {
        let mut c = vec![self.name(name)];
        c.extend(args);
        c
    }

    /// A key for a general command: mostly sorted sets, sometimes a big one, a lex one, or another type.
    fn key(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=64 => self.pick(ZKEYS).to_vec(),
            65..=76 => self.pick(BKEYS).to_vec(),
            77..=84 => self.pick(LKEYS).to_vec(),
            _ => self.other_key(),
        }
    }

    /// A key for a write that may set any score: never a lex key.
    fn wkey(&mut self) -> Vec<u8> {
        let k = self.key();
        if LKEYS.contains(&&k[..]) { self.pick(ZKEYS).to_vec() } else { k }
    }

    fn other_key(&mut self) -> Vec<u8> {
        let k = self.pick(OTHER);
        if k == b"set" && !self.opts.sets { b"none".to_vec() } else { k.to_vec() }
    }

    /// A key lexicographic commands may read (all scores equal), or now and then a string or a
    /// missing key that nothing else writes.
    fn lex_key(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=84 => self.pick(LKEYS).to_vec(),
            85..=92 => LEX_WRONG.to_vec(),
            _ => b"lexnone".to_vec(),
        }
    }

    fn member(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0..=6 => self.pick(MEMBERS).to_vec(),
            7..=8 => format!("m{}", self.rng.random_range(0..300)).into_bytes(),
            _ => {
                let mut v = vec![0; self.rng.random_range(0..12)];
                self.rng.fill_bytes(&mut v);
                v
            }
        }
    }

    fn score(&mut self) -> Vec<u8> {
        if self.chance(60) {
            let v: i32 = self.rng.random_range(-20..20);
            if self.chance(30) { format!("{v}.5").into_bytes() } else { v.to_string().into_bytes() }
        } else {
            self.pick(SCORES).as_bytes().to_vec()
        }
    }

    fn rank(&mut self) -> Vec<u8> {
        if self.chance(70) {
            self.rng.random_range(-8i32..12).to_string().into_bytes()
        } else {
            self.pick(RANKS).as_bytes().to_vec()
        }
    }

    fn score_bound(&mut self) -> Vec<u8> {
        if self.chance(40) {
            let v: i32 = self.rng.random_range(-20..20);
            let ex = if self.chance(30) { "(" } else { "" };
            format!("{ex}{v}").into_bytes()
        } else {
            self.pick(SCORE_BOUNDS).as_bytes().to_vec()
        }
    }

    fn lex_bound(&mut self) -> Vec<u8> {
        if self.chance(30) {
            let m = self.member();
            let mut v = vec![if self.chance(50) { b'[' } else { b'(' }];
            v.extend(m);
            v
        } else {
            self.pick(LEX_BOUNDS).to_vec()
        }
    }

    /// ` LIMIT offset count` now and then (negative offsets and counts included).
    fn limit(&mut self, args: &mut Vec<Vec<u8>>) {
        const EXTREME: &[&str] = &["9223372036854775807", "-9223372036854775808", "x", "1.5", "200"];
        if self.chance(35) {
            args.push(self.word("LIMIT"));
            for _ in 0..2 {
                let v = if self.chance(8) {
                    self.pick(EXTREME).as_bytes().to_vec()
                } else {
                    self.rng.random_range(-2i32..6).to_string().into_bytes()
                };
                args.push(v);
            }
        }
    }

    /// The next command.
    pub fn next_command(&mut self) -> Command {
        if let Some(c) = self.queue.pop_front() {
            return c;
        }
        match self.rng.random_range(0..1000) {
            0..=149 => self.zadd(),
            150..=189 => self.zincrby(),
            190..=239 => self.zrem(),
            240..=339 => self.point_read(),
            340..=389 => self.count(),
            390..=539 => self.range(),
            540..=569 => self.rangestore(),
            570..=609 => self.remrange(),
            610..=679 => self.pop(),
            680..=709 => self.randmember(),
            710..=809 => self.algebra(),
            810..=839 => self.scan(),
            840..=859 => self.big(),
            860..=879 => self.setup_other(),
            880..=899 => self.keyspace(),
            900..=919 => self.multi(),
            920..=949 => self.wrong_arity(),
            950..=969 if self.opts.thresholds => self.config(),
            950..=969 if self.opts.object => {
                // Sorted-set keys only: their encodings are this family's to get right.
                let k = match self.rng.random_range(0..3) {
                    0 => self.pick(ZKEYS).to_vec(),
                    1 => self.pick(BKEYS).to_vec(),
                    _ => self.pick(LKEYS).to_vec(),
                };
                let args = vec![b"ENCODING".to_vec(), k];
                self.cmd("OBJECT", args)
            }
            _ => self.lex_write(),
        }
    }

    fn zadd(&mut self) -> Command {
        let k = self.wkey();
        let mut args = vec![k];
        for opt in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
            if self.chance(12) {
                args.push(self.word(opt));
            }
        }
        let pairs = if self.chance(80) { self.rng.random_range(1..4) } else { self.rng.random_range(0..8) };
        for _ in 0..pairs {
            args.push(self.score());
            args.push(self.member());
        }
        if self.chance(3) {
            args.push(self.score());
        }
        self.cmd("ZADD", args)
    }

    fn zincrby(&mut self) -> Command {
        let k = self.wkey();
        let by = if self.chance(80) { self.pick(INCRS).as_bytes().to_vec() } else { self.score() };
        let args = vec![k, by, self.member()];
        self.cmd("ZINCRBY", args)
    }

    fn zrem(&mut self) -> Command {
        let k = self.key();
        let mut args = vec![k];
        for _ in 0..self.rng.random_range(1..4) {
            args.push(self.member());
        }
        self.cmd("ZREM", args)
    }

    fn point_read(&mut self) -> Command {
        let k = self.key();
        match self.rng.random_range(0..6) {
            0 => self.cmd("ZCARD", vec![k]),
            1 => {
                let args = vec![k, self.member()];
                self.cmd("ZSCORE", args)
            }
            2 => {
                let mut args = vec![k];
                for _ in 0..self.rng.random_range(1..4) {
                    args.push(self.member());
                }
                self.cmd("ZMSCORE", args)
            }
            3 => {
                let args = vec![k, self.member()];
                self.cmd("ZRANK", args)
            }
            4 => {
                let args = vec![k, self.member()];
                self.cmd("ZREVRANK", args)
            }
            _ => self.cmd("TYPE", vec![k]),
        }
    }

    fn count(&mut self) -> Command {
        if self.chance(50) {
            let args = vec![self.key(), self.score_bound(), self.score_bound()];
            self.cmd("ZCOUNT", args)
        } else {
            let args = vec![self.lex_key(), self.lex_bound(), self.lex_bound()];
            self.cmd("ZLEXCOUNT", args)
        }
    }

    fn range(&mut self) -> Command {
        match self.rng.random_range(0..9) {
            0..=2 => {
                // ZRANGE with every option, in a random order and with conflicts now and then.
                let by = self.rng.random_range(0..3);
                let k = if by == 2 { self.lex_key() } else { self.key() };
                let mut args = vec![k];
                match by {
                    0 => args.extend([self.rank(), self.rank()]),
                    1 => args.extend([self.score_bound(), self.score_bound()]),
                    _ => args.extend([self.lex_bound(), self.lex_bound()]),
                }
                let mut opts: Vec<Vec<u8>> = Vec::new();
                if by == 1 || self.chance(5) {
                    opts.push(self.word("BYSCORE"));
                }
                if by == 2 || self.chance(5) {
                    opts.push(self.word("BYLEX"));
                }
                if self.chance(40) {
                    opts.push(self.word("REV"));
                }
                if self.chance(40) {
                    opts.push(self.word("WITHSCORES"));
                }
                if self.chance(3) {
                    opts.push(self.word("REV"));
                }
                let n = opts.len();
                for i in 0..n {
                    let j = self.rng.random_range(i..n);
                    opts.swap(i, j);
                }
                args.extend(opts);
                if by != 0 || self.chance(10) {
                    self.limit(&mut args);
                }
                self.cmd("ZRANGE", args)
            }
            3 => {
                let mut args = vec![self.key(), self.rank(), self.rank()];
                if self.chance(50) {
                    args.push(self.word("WITHSCORES"));
                }
                self.cmd("ZREVRANGE", args)
            }
            4 | 5 => {
                let name = if self.chance(50) { "ZRANGEBYSCORE" } else { "ZREVRANGEBYSCORE" };
                let mut args = vec![self.key(), self.score_bound(), self.score_bound()];
                if self.chance(50) {
                    args.push(self.word("WITHSCORES"));
                }
                self.limit(&mut args);
                if self.chance(4) {
                    args.push(self.word("REV"));
                }
                self.cmd(name, args)
            }
            _ => {
                let name = if self.chance(50) { "ZRANGEBYLEX" } else { "ZREVRANGEBYLEX" };
                let mut args = vec![self.lex_key(), self.lex_bound(), self.lex_bound()];
                self.limit(&mut args);
                if self.chance(5) {
                    args.push(self.word("WITHSCORES"));
                }
                self.cmd(name, args)
            }
        }
    }

    fn rangestore(&mut self) -> Command {
        // Lex keys only receive ranges of lex keys (their scores stay 0).
        let lex = self.chance(25);
        let (dst, src) = if lex { (self.pick(LKEYS).to_vec(), self.lex_key()) } else { (self.key(), self.key()) };
        if !lex && LKEYS.contains(&&dst[..]) {
            return self.cmd("ZCARD", vec![dst]);
        }
        let mut args = vec![dst, src];
        match self.rng.random_range(0..2) {
            0 => args.extend([self.rank(), self.rank()]),
            _ if !lex => {
                args.extend([self.score_bound(), self.score_bound()]);
                args.push(self.word("BYSCORE"));
                self.limit(&mut args);
            }
            _ => {
                args.extend([self.lex_bound(), self.lex_bound()]);
                args.push(self.word("BYLEX"));
                self.limit(&mut args);
            }
        }
        if self.chance(30) {
            args.push(self.word("REV"));
        }
        if self.chance(4) {
            args.push(self.word("WITHSCORES"));
        }
        self.cmd("ZRANGESTORE", args)
    }

    fn remrange(&mut self) -> Command {
        match self.rng.random_range(0..3) {
            0 => {
                let args = vec![self.key(), self.rank(), self.rank()];
                self.cmd("ZREMRANGEBYRANK", args)
            }
            1 => {
                let args = vec![self.key(), self.score_bound(), self.score_bound()];
                self.cmd("ZREMRANGEBYSCORE", args)
            }
            _ => {
                let args = vec![self.lex_key(), self.lex_bound(), self.lex_bound()];
                self.cmd("ZREMRANGEBYLEX", args)
            }
        }
    }

    fn pop(&mut self) -> Command {
        match self.rng.random_range(0..6) {
            0 | 1 => {
                let name = if self.chance(50) { "ZPOPMIN" } else { "ZPOPMAX" };
                let mut args = vec![self.key()];
                if self.chance(60) {
                    args.push(self.pick(&["0", "1", "2", "5", "-1", "x", "200"]).as_bytes().to_vec());
                }
                if self.chance(3) {
                    args.push(b"1".to_vec());
                }
                self.cmd(name, args)
            }
            2 | 3 => {
                let blocking = self.chance(40);
                let mut args = Vec::new();
                if blocking {
                    args.push(self.pick(TIMEOUTS).as_bytes().to_vec());
                }
                let n = self.rng.random_range(1..4);
                args.push(
                    if self.chance(90) { n.to_string() } else { self.pick(&["0", "-1", "x", "9"]).to_owned() }
                        .into_bytes(),
                );
                for _ in 0..n {
                    args.push(self.key());
                }
                let side = self.pick(&["MIN", "MAX", "MIN", "MAX", "MID"]);
                args.push(self.word(side));
                if self.chance(50) {
                    args.push(self.word("COUNT"));
                    args.push(self.pick(&["1", "2", "10", "0", "-1", "x"]).as_bytes().to_vec());
                }
                if self.chance(3) {
                    args.push(self.word("COUNT"));
                }
                self.cmd(if blocking { "BZMPOP" } else { "ZMPOP" }, args)
            }
            _ => {
                let name = if self.chance(50) { "BZPOPMIN" } else { "BZPOPMAX" };
                let mut args = Vec::new();
                for _ in 0..self.rng.random_range(1..4) {
                    args.push(self.key());
                }
                args.push(self.pick(TIMEOUTS).as_bytes().to_vec());
                self.cmd(name, args)
            }
        }
    }

    fn randmember(&mut self) -> Command {
        let mut args = vec![self.key()];
        if self.chance(80) {
            args.push(
                self.pick(&["1", "3", "-3", "-1", "0", "10", "-10", "400", "x", "-9223372036854775808"])
                    .as_bytes()
                    .to_vec(),
            );
            if self.chance(50) {
                args.push(self.word("WITHSCORES"));
            } else if self.chance(5) {
                args.push(b"foo".to_vec());
            }
        }
        self.cmd("ZRANDMEMBER", args)
    }

    fn algebra(&mut self) -> Command {
        let (name, store, card) = *self.pick(&[
            &("ZUNION", false, false),
            &("ZINTER", false, false),
            &("ZDIFF", false, false),
            &("ZUNIONSTORE", true, false),
            &("ZINTERSTORE", true, false),
            &("ZDIFFSTORE", true, false),
            &("ZINTERCARD", false, true),
        ]);
        let mut args = Vec::new();
        if store {
            let dst = if self.chance(80) { self.pick(ZKEYS).to_vec() } else { self.key() };
            if LKEYS.contains(&&dst[..]) {
                return self.cmd("ZCARD", vec![dst]);
            }
            args.push(dst);
        }
        let n = self.rng.random_range(1..4);
        args.push(
            if self.chance(92) { n.to_string() } else { self.pick(&["0", "-1", "x", "5"]).to_owned() }.into_bytes(),
        );
        for _ in 0..n {
            args.push(if self.chance(70) { self.pick(ZKEYS).to_vec() } else { self.key() });
        }
        let diff = name.starts_with("ZDIFF");
        if (!diff && !card && self.chance(40)) || self.chance(4) {
            args.push(self.word("WEIGHTS"));
            let w = if self.chance(90) { n } else { self.rng.random_range(0..5) };
            for _ in 0..w {
                args.push(self.pick(&["1", "2", "0", "-1", "0.5", "inf", "-inf", "x", "1e400"]).as_bytes().to_vec());
            }
        }
        if (!diff && !card && self.chance(40)) || self.chance(3) {
            args.push(self.word("AGGREGATE"));
            let how = self.pick(&["SUM", "MIN", "MAX", "sum", "AVG"]);
            args.push(self.word(how));
        }
        if (!store && !card && self.chance(50)) || self.chance(3) {
            args.push(self.word("WITHSCORES"));
        }
        if card && self.chance(50) {
            args.push(self.word("LIMIT"));
            args.push(self.pick(&["0", "1", "2", "-1", "x"]).as_bytes().to_vec());
        }
        self.cmd(name, args)
    }

    fn scan(&mut self) -> Command {
        let mut args = vec![self.key(), self.pick(&["0", "0", "1", "x", "-1"]).as_bytes().to_vec()];
        if self.chance(40) {
            args.push(self.word("MATCH"));
            args.push(self.pick(&["*", "m*", "?", "[a-c]", "*\x00*", "m1?"]).as_bytes().to_vec());
        }
        if self.chance(40) {
            args.push(self.word("COUNT"));
            args.push(self.pick(&["1000", "1000", "5", "0", "x"]).as_bytes().to_vec());
        }
        self.cmd("ZSCAN", args)
    }

    /// A ZADD of many members into a big key (past 128 entries), or into a small one.
    fn big(&mut self) -> Command {
        let k = if self.chance(80) { self.pick(BKEYS).to_vec() } else { self.pick(ZKEYS).to_vec() };
        let n = self.rng.random_range(60..200);
        let mut args = vec![k];
        for _ in 0..n {
            args.push(self.rng.random_range(-50i32..50).to_string().into_bytes());
            args.push(format!("m{}", self.rng.random_range(0..300)).into_bytes());
        }
        self.cmd("ZADD", args)
    }

    /// ZADD / ZREM on the lex keys (score 0 only), sometimes many members.
    fn lex_write(&mut self) -> Command {
        let k = self.pick(LKEYS).to_vec();
        if self.chance(20) {
            let mut args = vec![k];
            args.push(self.member());
            return self.cmd("ZREM", args);
        }
        let n = if self.chance(10) { self.rng.random_range(50..150) } else { self.rng.random_range(1..4) };
        let mut args = vec![k];
        if self.chance(10) {
            args.push(self.word("NX"));
        }
        for _ in 0..n {
            args.push(self.pick(&["0", "-0", "0.0"]).as_bytes().to_vec());
            args.push(self.member());
        }
        self.cmd("ZADD", args)
    }

    /// The other types: a string, a hash, and a set when the server has sets.
    fn setup_other(&mut self) -> Command {
        match self.rng.random_range(0..3) {
            0 => {
                let k = if self.chance(50) { b"str".to_vec() } else { LEX_WRONG.to_vec() };
                self.cmd("SET", vec![k, b"v".to_vec()])
            }
            1 => {
                let f = self.member();
                self.cmd("HSET", vec![b"hash".to_vec(), f, b"1".to_vec()])
            }
            _ if self.opts.sets => {
                let mut args = vec![b"set".to_vec()];
                for _ in 0..self.rng.random_range(1..5) {
                    args.push(self.member());
                }
                self.cmd("SADD", args)
            }
            _ => self.cmd("DEL", vec![b"none".to_vec()]),
        }
    }

    fn keyspace(&mut self) -> Command {
        let k = self.key();
        match self.rng.random_range(0..4) {
            0 => self.cmd("DEL", vec![k]),
            1 => self.cmd("EXISTS", vec![k]),
            2 => self.cmd("TYPE", vec![k]),
            _ => {
                // Sorted sets only, so that the sorted-set keys hold nothing else.
                let src = if self.chance(60) { self.pick(ZKEYS).to_vec() } else { self.pick(BKEYS).to_vec() };
                let dst = self.pick(ZKEYS).to_vec();
                self.cmd("COPY", vec![src, dst, b"REPLACE".to_vec()])
            }
        }
    }

    /// MULTI, two or three sorted-set commands (blocking ones reply nil at once), EXEC.
    fn multi(&mut self) -> Command {
        let n = self.rng.random_range(2..4);
        for _ in 0..n {
            let c = match self.rng.random_range(0..4) {
                0 => self.algebra(),
                1 => self.pop(),
                2 => self.zadd(),
                _ => self.range(),
            };
            self.queue.push_back(c);
        }
        let exec = self.cmd("EXEC", vec![]);
        self.queue.push_back(exec);
        self.cmd("MULTI", vec![])
    }

    fn config(&mut self) -> Command {
        let (name, values): (&str, &[&str]) = if self.chance(60) {
            (
                if self.chance(80) { "zset-max-listpack-entries" } else { "zset-max-ziplist-entries" },
                &["0", "1", "2", "4", "128"],
            )
        } else {
            (if self.chance(80) { "zset-max-listpack-value" } else { "zset-max-ziplist-value" }, &["0", "1", "4", "64"])
        };
        let v = self.pick(values).as_bytes().to_vec();
        self.cmd("CONFIG", vec![b"SET".to_vec(), name.as_bytes().to_vec(), v])
    }

    fn wrong_arity(&mut self) -> Command {
        let cases: &[(&str, usize)] = &[
            ("ZADD", 2),
            ("ZADD", 0),
            ("ZINCRBY", 2),
            ("ZREM", 1),
            ("ZCARD", 0),
            ("ZCARD", 2),
            ("ZSCORE", 1),
            ("ZMSCORE", 1),
            ("ZRANK", 1),
            ("ZRANK", 3),
            ("ZCOUNT", 2),
            ("ZRANGE", 2),
            ("ZRANGESTORE", 3),
            ("ZRANGEBYLEX", 1),
            ("ZREMRANGEBYRANK", 2),
            ("ZPOPMIN", 0),
            ("ZMPOP", 2),
            ("ZRANDMEMBER", 0),
            ("ZUNION", 1),
            ("ZINTERSTORE", 2),
            ("ZINTERCARD", 1),
            ("ZSCAN", 1),
            ("BZPOPMIN", 1),
            ("BZMPOP", 3),
        ];
        let (name, n) = cases[self.rng.random_range(0..cases.len())];
        let args = (0..n).map(|_| self.key()).collect();
        self.cmd(name, args)
    }
}

fn name_of(cmd: &Command) -> String {
    String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase()
}

/// The items of an array reply (RESP2 or RESP3).
fn items(f: &Frame) -> Option<&[Frame]> {
    match f {
        Frame::Array(Some(v)) | Frame::Set(v) => Some(v),
        _ => None,
    }
}

/// `(member, score)` pairs of a reply, flat (RESP2, ZSCAN) or nested (RESP3); scores as text.
fn pairs(f: &[Frame], withscores: bool) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let text = |f: &Frame| match f {
        Frame::Bulk(Some(b)) | Frame::Double(b) => Some(b.clone()),
        _ => None,
    };
    if !withscores {
        return f.iter().map(|m| text(m).map(|m| (m, Vec::new()))).collect();
    }
    if f.iter().all(|x| matches!(x, Frame::Array(Some(p)) if p.len() == 2)) {
        return f.iter().map(|x| items(x).and_then(|p| Some((text(&p[0])?, text(&p[1])?)))).collect();
    }
    if f.len() % 2 != 0 {
        return None;
    }
    f.chunks(2).map(|p| Some((text(&p[0])?, text(&p[1])?))).collect()
}

/// Agreement for the replies Redis leaves to chance: ZRANDMEMBER (same count; distinct members
/// for a positive count; with `reference`, every member ours drew is in the set with the score
/// ours gave, checked on the reference server at once, so only for one-by-one runs) and ZSCAN of
/// a large (hash-ordered) sorted set (equal as multisets when both scanned from cursor 0 to the
/// end in one call, else any well-formed reply without repeats).
#[must_use]
pub fn agree(cmd: &Command, ours: &Frame, theirs: &Frame, reference: Option<SocketAddr>) -> bool {
    match name_of(cmd).as_str() {
        "ZRANDMEMBER" => randmember_agrees(cmd, ours, theirs, reference),
        "ZSCAN" => {
            let (Some(a), Some(b)) = (items(ours), items(theirs)) else { return false };
            if a.len() != 2 || b.len() != 2 {
                return false;
            }
            let (Some(pa), Some(pb)) =
                (items(&a[1]).and_then(|x| pairs(x, true)), items(&b[1]).and_then(|x| pairs(x, true)))
            else {
                return false;
            };
            // Only a scan from cursor 0 that ends in one call covers the whole set.
            let done = |f: &Frame| matches!(f, Frame::Bulk(Some(c)) if c == b"0");
            if cmd[2] == b"0" && done(&a[0]) && done(&b[0]) {
                let (mut pa, mut pb) = (pa, pb);
                pa.sort();
                pb.sort();
                return pa == pb;
            }
            let mut seen: Vec<&Vec<u8>> = pa.iter().map(|(m, _)| m).collect();
            seen.sort();
            seen.windows(2).all(|w| w[0] != w[1])
        }
        _ => false,
    }
}

fn randmember_agrees(cmd: &Command, ours: &Frame, theirs: &Frame, reference: Option<SocketAddr>) -> bool {
    let withscores = cmd.len() == 4;
    let (ours_items, theirs_items) = match (ours, theirs) {
        (Frame::Bulk(Some(a)), Frame::Bulk(Some(_))) => {
            return reference.is_none_or(|r| in_set(r, &cmd[1], &[(a.clone(), Vec::new())], false));
        }
        _ => match (items(ours), items(theirs)) {
            (Some(a), Some(b)) => (a, b),
            _ => return false,
        },
    };
    let (Some(a), Some(b)) = (pairs(ours_items, withscores), pairs(theirs_items, withscores)) else { return false };
    if a.len() != b.len() {
        return false;
    }
    let positive = cmd.get(2).is_some_and(|c| !c.starts_with(b"-"));
    if positive {
        let mut m: Vec<&Vec<u8>> = a.iter().map(|(m, _)| m).collect();
        m.sort();
        if m.windows(2).any(|w| w[0] == w[1]) {
            return false;
        }
    }
    reference.is_none_or(|r| in_set(r, &cmd[1], &a, withscores))
}

/// Whether every member of `drawn` is in the sorted set `key` of the server at `addr` (with the
/// drawn score, when `withscores`).
fn in_set(addr: SocketAddr, key: &[u8], drawn: &[(Vec<u8>, Vec<u8>)], withscores: bool) -> bool {
    let Ok(mut conn) = RawConn::connect(addr) else { return false };
    let mut args: Vec<&[u8]> = vec![b"ZMSCORE", key];
    args.extend(drawn.iter().map(|(m, _)| &m[..]));
    let Ok(reply) = conn.cmd(&args) else { return false };
    let Some(scores) = items(&reply) else { return false };
    scores.iter().zip(drawn).all(|(s, (_, want))| match s {
        Frame::Bulk(Some(s)) => !withscores || s == want,
        _ => false,
    })
}
