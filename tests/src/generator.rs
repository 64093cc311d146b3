//! The seeded random command generator behind the differential tests.
//!
//! It owns *what* is sent: commands from the implemented set (strings, keys and expiry, hashes, and
//! lists, sets and sorted sets written on the same keys, so every family meets every other's type
//! and the key commands — TYPE, COPY, RENAME, SORT — cross types), option mixes valid and invalid, wrong types, wrong arity and unknown commands, over a small pool of
//! binary-safe keys so commands collide on the same keys. It must stay deterministic for a seed, and
//! must avoid time-dependent outcomes: every relative or absolute expiry it generates is far in the
//! future (or far in the past) and distinct from every other one, so comparisons such as `EXPIRE ..
//! GT` never depend on which millisecond a server ran a command in. It does not talk to servers.

use rand::rngs::StdRng;

use crate::draw::Draw;
use rand::{Rng, RngCore, SeedableRng};

/// One command as the list of its arguments (name first).
pub type Command = Vec<Vec<u8>>;

/// Keys shared by all command families, so types collide and `WRONGTYPE` happens. Binary-safe on
/// purpose: NUL, CR LF, bytes that are not UTF-8, multi-byte UTF-8, a space, and the empty key.
pub const KEYS: &[&[u8]] =
    &[b"k0", b"k1", b"k2", b"n0", b"n1", b"h0", b"h1", b"bin\x00\xff\r\nkey", b"", "ключ".as_bytes(), b"a b"];

const FIELDS: &[&[u8]] = &[b"f0", b"f1", b"f2", b"\x00", b"", "поле".as_bytes(), b"x y"];

/// Integers as a client would send them, including edges and strings that are *not* integers.
const INT_TEXTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "42",
    "100",
    "-7",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "00",
    "+1",
    " 1",
    "1.5",
    "abc",
    "",
    "-0",
];

/// Float increments that are exact in binary, so the reply does not depend on Redis computing in
/// 80-bit `long double` while a Rust server computes in `f64`. Plus the invalid ones.
const FLOAT_TEXTS: &[&str] =
    &["0.5", "-0.25", "1.5", "3e2", "-2.75", "10", "0", "0.125", "inf", "-inf", "nan", "x", "", "5.0e3"];

/// Keys that only `INCRBYFLOAT` and float-safe writes touch (see [`Generator::float_command`]).
const FLOAT_KEYS: &[&[u8]] = &[b"f0", b"f1"];

/// A hash key that only float commands touch, for `INCRBYFLOAT` against the wrong type.
const FLOAT_HASH: &[u8] = b"fh";

/// The hash field that only `HINCRBYFLOAT` and float-safe writes touch.
const FLOAT_FIELD: &[u8] = b"ff";

/// Glob patterns for `KEYS`.
const PATTERNS: &[&[u8]] = &[b"*", b"k*", b"?0", b"h[01]", b"*\x00*", b"[^k]*", b"n\\0", b"*y"];

/// Command names that do not exist in Redis 7.0 nor in our server.
const UNKNOWN: &[&str] = &["FOO", "getx", "SETT", "hgetallx", "Nope"];

/// Generates commands for one seed.
#[derive(Debug)]
pub struct Generator {
    rng: StdRng,
    /// Unix time (seconds) when generation started; absolute expiries are offsets from it.
    base_unix: u64,
    /// Counts expiries handed out so each one is distinct (see the module docs).
    expiry_seq: u64,
}

impl Draw for Generator {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

impl Generator {
    /// A generator for `seed`, with absolute times measured from `base_unix` (seconds).
    #[must_use]
    pub fn new(seed: u64, base_unix: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), base_unix, expiry_seq: 0 }
    }

    fn key(&mut self) -> Vec<u8> {
        self.pick(KEYS).to_vec()
    }

    fn field(&mut self) -> Vec<u8> {
        self.pick(FIELDS).to_vec()
    }

    /// A command name in a random letter case: Redis matches names case-insensitively.
    fn name(&mut self, name: &str) -> Vec<u8> {
        match self.rng.random_range(0..4) {
            0 => name.to_ascii_lowercase().into_bytes(),
            1 => name.bytes().enumerate().map(|(i, b)| if i % 2 == 0 { b.to_ascii_lowercase() } else { b }).collect(),
            _ => name.as_bytes().to_vec(),
        }
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0..=2 => self.pick(INT_TEXTS).as_bytes().to_vec(),
            3 => self.pick(FLOAT_TEXTS).as_bytes().to_vec(),
            4..=5 => {
                let len = self.rng.random_range(0..24);
                let mut v = vec![0; len];
                self.rng.fill_bytes(&mut v);
                v
            }
            6 if self.chance(20) => {
                let len = self.rng.random_range(100..3000);
                let mut v = vec![0; len];
                self.rng.fill_bytes(&mut v);
                v
            }
            _ => format!("v{}", self.rng.random_range(0..1000)).into_bytes(),
        }
    }

    fn int_text(&mut self) -> Vec<u8> {
        if self.chance(70) {
            self.rng.random_range(-1000i64..1000).to_string().into_bytes()
        } else {
            self.pick(INT_TEXTS).as_bytes().to_vec()
        }
    }

    fn small_index(&mut self) -> Vec<u8> {
        self.rng.random_range(-12i64..30).to_string().into_bytes()
    }

    /// A relative expiry in seconds, far in the future and distinct from all earlier ones (100 s
    /// apart: more than any run takes), or now and then an invalid or past value.
    fn rel_seconds(&mut self) -> i64 {
        if self.chance(8) {
            return *[0i64, -1, -100].get(self.rng.random_range(0..3)).unwrap_or(&0);
        }
        self.expiry_seq += 1;
        // A permutation of 0..100_003 (7919 is coprime with the prime 100_003): distinct and shuffled.
        let slot = (self.expiry_seq * 7919) % 100_003;
        1_000 + 100 * i64::try_from(slot).unwrap_or(0)
    }

    /// `(option, argument)` for an expiry in one of the four units.
    ///
    /// With `past_absolute_ok` false, a non-positive time is only ever relative (`EX 0`, an error):
    /// `SET k v EXAT <past>` in Redis 7.0 stores a key that is already expired, invisible to reads
    /// but counted by `DBSIZE` until Redis's active expiry cycle happens to sample it, so its effect
    /// on later replies depends on timing. (`GETEX` and `EXPIREAT` delete such a key at once.)
    fn expiry_option(&mut self, past_absolute_ok: bool) -> (&'static str, Vec<u8>) {
        let secs = self.rel_seconds();
        let base = i64::try_from(self.base_unix).unwrap_or(0);
        if secs <= 0 && !past_absolute_ok {
            return ("EX", secs.to_string().into_bytes());
        }
        match self.rng.random_range(0..4) {
            0 => ("EX", secs.to_string().into_bytes()),
            1 => ("PX", (secs * 1000).to_string().into_bytes()),
            2 => ("EXAT", (base + secs).to_string().into_bytes()),
            _ => ("PXAT", ((base + secs) * 1000).to_string().into_bytes()),
        }
    }

    /// The next command.
    pub fn next_command(&mut self) -> Command {
        let roll = self.rng.random_range(0..100);
        match roll {
            0..=34 => self.string_command(),
            35..=56 => self.key_command(),
            57..=77 => self.hash_command(),
            78..=89 => self.collection_command(),
            90..=93 => self.wrong_arity(),
            94..=95 => self.unknown_command(),
            _ => self.misc_command(),
        }
    }

    fn cmd(&mut self, name: &str, args: Vec<Vec<u8>>) -> Command {
        let mut c = vec![self.name(name)];
        c.extend(args);
        c
    }

    fn string_command(&mut self) -> Command {
        let k = self.key();
        match self.rng.random_range(0..23) {
            0..=2 => self.cmd("GET", vec![k]),
            3..=5 => self.set_command(k),
            6 => {
                let args = vec![k, self.value()];
                self.cmd("SETNX", args)
            }
            7 => {
                let (name, mult) = if self.chance(50) { ("SETEX", 1) } else { ("PSETEX", 1000) };
                let ttl = self.rel_seconds() * mult;
                let args = vec![k, ttl.to_string().into_bytes(), self.value()];
                self.cmd(name, args)
            }
            8 => {
                let args = vec![k, self.value()];
                self.cmd("GETSET", args)
            }
            9 => self.cmd("GETDEL", vec![k]),
            10 => self.getex_command(k),
            11 => {
                let n = self.rng.random_range(1..5);
                let keys = (0..n).map(|_| self.key()).collect();
                self.cmd("MGET", keys)
            }
            12 => {
                let name = if self.chance(70) { "MSET" } else { "MSETNX" };
                let n = self.rng.random_range(1..4);
                let mut args = Vec::new();
                for _ in 0..n {
                    args.push(self.key());
                    args.push(self.value());
                }
                self.cmd(name, args)
            }
            13 => {
                let name = self.pick(&["INCR", "DECR"]);
                self.cmd(name, vec![k])
            }
            14 => {
                let name = self.pick(&["INCRBY", "DECRBY"]);
                let by = self.int_text();
                self.cmd(name, vec![k, by])
            }
            15 => self.float_command(),
            16 => {
                let args = vec![k, self.value()];
                self.cmd("APPEND", args)
            }
            17 => self.cmd("STRLEN", vec![k]),
            18 => {
                let (s, e) = (self.small_index(), self.small_index());
                let name = if self.chance(20) { "SUBSTR" } else { "GETRANGE" };
                self.cmd(name, vec![k, s, e])
            }
            19 => {
                let off: Vec<u8> = match self.rng.random_range(0..20) {
                    0 => b"-1".to_vec(),
                    1 => b"536870912".to_vec(),
                    2 => b"x".to_vec(),
                    _ => self.rng.random_range(0..40).to_string().into_bytes(),
                };
                {
                    let args = vec![k, off, self.value()];
                    self.cmd("SETRANGE", args)
                }
            }
            20 => {
                let args = vec![k, self.int_text()];
                self.cmd("SET", args)
            }
            _ => {
                let k = if self.chance(50) { b"n0".to_vec() } else { b"n1".to_vec() };
                self.cmd("INCR", vec![k])
            }
        }
    }

    /// `INCRBYFLOAT` and friends on the float keys.
    ///
    /// Redis computes `INCRBYFLOAT` in the platform's `long double` (80-bit on x86-64) and prints 17
    /// decimals, so for operands that are not short binary fractions, or beyond 2^53, its reply shows
    /// digits an `f64` server cannot reproduce — platform noise, not semantics. So float operations
    /// run only on [`FLOAT_KEYS`] (and the field [`FLOAT_FIELD`]), which nothing else writes except with
    /// values from `FLOAT_TEXTS` (all exact in binary, or invalid); other commands still read them.
    fn float_command(&mut self) -> Command {
        let k = self.pick(FLOAT_KEYS).to_vec();
        match self.rng.random_range(0..10) {
            0..=5 => {
                let by = self.pick(FLOAT_TEXTS).as_bytes().to_vec();
                self.cmd("INCRBYFLOAT", vec![k, by])
            }
            6 => {
                let v = self.pick(FLOAT_TEXTS).as_bytes().to_vec();
                self.cmd("SET", vec![k, v])
            }
            7 => {
                let name = self.pick(&["GET", "TTL", "TYPE", "STRLEN", "DEL", "EXISTS"]);
                self.cmd(name, vec![k])
            }
            8 => {
                let secs = self.rel_seconds().to_string().into_bytes();
                self.cmd("EXPIRE", vec![k, secs])
            }
            _ => {
                // Wrong type on purpose: FLOAT_HASH is a hash once created, and only touched here.
                if self.chance(30) {
                    let v = self.pick(FLOAT_TEXTS).as_bytes().to_vec();
                    self.cmd("HSET", vec![FLOAT_HASH.to_vec(), FLOAT_FIELD.to_vec(), v])
                } else {
                    let by = self.pick(FLOAT_TEXTS).as_bytes().to_vec();
                    self.cmd("INCRBYFLOAT", vec![FLOAT_HASH.to_vec(), by])
                }
            }
        }
    }

    fn set_command(&mut self, k: Vec<u8>) -> Command {
        // Options as groups (an option with its argument stays together), in a random order: Redis
        // accepts them in any order.
        let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
        if self.chance(30) {
            groups.push(vec![self.pick(&["NX", "XX", "nx"]).as_bytes().to_vec()]);
        }
        if self.chance(20) {
            groups.push(vec![b"GET".to_vec()]);
        }
        match self.rng.random_range(0..10) {
            0..=3 => {
                let (opt, arg) = self.expiry_option(false);
                groups.push(vec![opt.as_bytes().to_vec(), arg]);
            }
            4 => groups.push(vec![b"KEEPTTL".to_vec()]),
            5 if self.chance(40) => {
                // Invalid mixes and values: Redis answers a syntax or expire-time error.
                let bad: &[&[u8]] = &[b"EX", b"PX", b"NX", b"KEEPTTL", b"EXAT", b"bogus", b"0", b"-5"];
                let n = self.rng.random_range(1..4);
                for _ in 0..n {
                    groups.push(vec![self.pick(bad).to_vec()]);
                }
            }
            _ => {}
        }
        if groups.len() > 1 && self.chance(40) {
            groups.reverse();
        }
        let mut args = vec![k, self.value()];
        args.extend(groups.into_iter().flatten());
        self.cmd("SET", args)
    }

    fn getex_command(&mut self, k: Vec<u8>) -> Command {
        let mut args = vec![k];
        match self.rng.random_range(0..6) {
            0..=2 => {
                let (opt, arg) = self.expiry_option(true);
                args.push(opt.as_bytes().to_vec());
                args.push(arg);
            }
            3 => args.push(b"PERSIST".to_vec()),
            4 => args.extend([b"EX".to_vec(), b"10".to_vec(), b"PERSIST".to_vec()]),
            _ => {}
        }
        self.cmd("GETEX", args)
    }

    fn key_command(&mut self) -> Command {
        let k = self.key();
        match self.rng.random_range(0..20) {
            0 | 1 => {
                let name = self.pick(&["DEL", "UNLINK", "EXISTS", "TOUCH"]);
                let n = self.rng.random_range(1..4);
                let keys = (0..n).map(|_| self.key()).collect();
                self.cmd(name, keys)
            }
            2 | 3 => self.cmd("EXISTS", vec![k]),
            4 => self.cmd("TYPE", vec![k]),
            5..=8 => {
                let secs = self.rel_seconds();
                let base = i64::try_from(self.base_unix).unwrap_or(0);
                let (name, arg) = match self.rng.random_range(0..5) {
                    0 | 1 => ("EXPIRE", secs),
                    2 => ("PEXPIRE", secs * 1000),
                    3 => ("EXPIREAT", if secs <= 0 { 1 } else { base + secs }),
                    _ => ("PEXPIREAT", if secs <= 0 { 1000 } else { (base + secs) * 1000 }),
                };
                let mut args = vec![k, arg.to_string().into_bytes()];
                if self.chance(5) {
                    args[1] = self.pick(&["9223372036854775807", "abc", "1.5"]).as_bytes().to_vec();
                }
                if self.chance(50) {
                    args.push(self.pick(&["NX", "XX", "GT", "LT", "gt", "NX XX"]).as_bytes().to_vec());
                    if self.chance(10) {
                        args.push(self.pick(&["XX", "LT", "GT"]).as_bytes().to_vec());
                    }
                }
                self.cmd(name, args)
            }
            9 | 10 => {
                let name = self.pick(&["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]);
                self.cmd(name, vec![k])
            }
            11 => self.cmd("PERSIST", vec![k]),
            12 | 13 => {
                let name = self.pick(&["RENAME", "RENAMENX"]);
                let to = self.key();
                self.cmd(name, vec![k, to])
            }
            14 => self.cmd("DBSIZE", vec![]),
            15 => {
                let p = self.pick(PATTERNS).to_vec();
                self.cmd("KEYS", vec![p])
            }
            16 => {
                let db = match self.rng.random_range(0..10) {
                    0 => "99",
                    1..=3 => "1",
                    _ => "0",
                };
                self.cmd("SELECT", vec![db.as_bytes().to_vec()])
            }
            17 if self.chance(5) => {
                let name = self.pick(&["FLUSHDB", "FLUSHALL"]);
                let mut c = self.cmd(name, vec![]);
                if self.chance(50) {
                    c.push(self.pick(&["SYNC", "ASYNC"]).as_bytes().to_vec());
                }
                c
            }
            _ => self.cmd("GET", vec![k]),
        }
    }

    fn hash_command(&mut self) -> Command {
        let k = match self.rng.random_range(0..4) {
            0 => b"h0".to_vec(),
            1 => b"h1".to_vec(),
            2 => b"h0".to_vec(),
            _ => self.key(),
        };
        let f = self.field();
        match self.rng.random_range(0..16) {
            0..=2 => {
                let n = self.rng.random_range(1..4);
                let mut args = vec![k];
                for _ in 0..n {
                    args.push(self.field());
                    args.push(self.value());
                }
                self.cmd("HSET", args)
            }
            3 => {
                let args = vec![k, f, self.value()];
                self.cmd("HSETNX", args)
            }
            4 | 5 => self.cmd("HGET", vec![k, f]),
            6 => {
                let n = self.rng.random_range(1..4);
                let mut args = vec![k];
                args.extend((0..n).map(|_| self.field()));
                self.cmd("HMGET", args)
            }
            7 => {
                let name = self.pick(&["HGETALL", "HKEYS", "HVALS", "HLEN"]);
                self.cmd(name, vec![k])
            }
            8 => {
                let n = self.rng.random_range(1..3);
                let mut args = vec![k];
                args.extend((0..n).map(|_| self.field()));
                self.cmd("HDEL", args)
            }
            9 => self.cmd("HEXISTS", vec![k, f]),
            10 => self.cmd("HSTRLEN", vec![k, f]),
            11 | 12 => {
                let by = self.int_text();
                self.cmd("HINCRBY", vec![k, f, by])
            }
            13 => {
                let by = self.pick(FLOAT_TEXTS).as_bytes().to_vec();
                self.cmd("HINCRBYFLOAT", vec![k, FLOAT_FIELD.to_vec(), by])
            }
            14 => {
                let args = vec![k, f, self.int_text()];
                self.cmd("HSET", args)
            }
            15 if self.chance(30) => {
                let v = self.pick(FLOAT_TEXTS).as_bytes().to_vec();
                self.cmd("HSET", vec![k, FLOAT_FIELD.to_vec(), v])
            }
            _ => self.cmd("TYPE", vec![k]),
        }
    }

    fn wrong_arity(&mut self) -> Command {
        // (name, an argument count that is wrong for it)
        let cases: &[(&str, usize)] = &[
            ("GET", 0),
            ("GET", 2),
            ("SET", 1),
            ("MSET", 3),
            ("MSET", 0),
            ("HSET", 2),
            ("HSET", 4),
            ("HGET", 1),
            ("INCR", 0),
            ("INCRBY", 1),
            ("EXPIRE", 1),
            ("TTL", 2),
            ("RENAME", 1),
            ("DEL", 0),
            ("EXISTS", 0),
            ("GETRANGE", 2),
            ("SETRANGE", 4),
            ("HMGET", 1),
            ("APPEND", 1),
            ("ECHO", 0),
            ("PING", 2),
            ("DBSIZE", 1),
            ("GETEX", 0),
        ];
        let (name, n) = cases[self.rng.random_range(0..cases.len())];
        let args = (0..n).map(|_| self.key()).collect();
        self.cmd(name, args)
    }

    fn unknown_command(&mut self) -> Command {
        let name = self.pick(UNKNOWN).as_bytes().to_vec();
        let n = self.rng.random_range(0..4);
        let mut c = vec![name];
        for _ in 0..n {
            c.push(format!("arg{}", self.rng.random_range(0..100)).into_bytes());
        }
        c
    }

    /// A member of a set or sorted set: integers (intset material) and the usual values.
    fn member(&mut self) -> Vec<u8> {
        if self.chance(40) { self.rng.random_range(-5i64..20).to_string().into_bytes() } else { self.value() }
    }

    /// Lists, sets and sorted sets on the shared keys, read back in deterministic forms (no
    /// SMEMBERS or SPOP, whose order or choice is the server's), and the key commands across types.
    fn collection_command(&mut self) -> Command {
        let k = self.key();
        match self.rng.random_range(0..16) {
            0 | 1 => {
                let name = if self.chance(50) { "RPUSH" } else { "LPUSH" };
                let mut args = vec![k];
                for _ in 0..self.rng.random_range(1..4) {
                    args.push(self.value());
                }
                self.cmd(name, args)
            }
            2 | 3 => {
                let mut args = vec![k];
                for _ in 0..self.rng.random_range(1..5) {
                    args.push(self.member());
                }
                self.cmd("SADD", args)
            }
            4 | 5 => {
                let mut args = vec![k];
                for _ in 0..self.rng.random_range(1..4) {
                    let score =
                        if self.chance(70) { self.int_text() } else { self.pick(FLOAT_TEXTS).as_bytes().to_vec() };
                    args.push(score);
                    args.push(self.member());
                }
                self.cmd("ZADD", args)
            }
            6 => {
                let args = vec![k, self.small_index(), b"-1".to_vec()];
                self.cmd("LRANGE", args)
            }
            7 => self.cmd("ZRANGE", vec![k, b"0".to_vec(), b"-1".to_vec(), b"WITHSCORES".to_vec()]),
            8 => {
                let m = self.member();
                self.cmd("SISMEMBER", vec![k, m])
            }
            9 => {
                let name = *[&"SCARD", &"LLEN", &"ZCARD"][self.rng.random_range(0..3)];
                self.cmd(name, vec![k])
            }
            10 => self.cmd("TYPE", vec![k]),
            11 | 12 => {
                let mut args = vec![k];
                if self.chance(50) {
                    args.push(b"ALPHA".to_vec());
                }
                if self.chance(30) {
                    args.push(b"DESC".to_vec());
                }
                if self.chance(30) {
                    args.extend([b"LIMIT".to_vec(), self.small_index(), self.small_index()]);
                }
                if self.chance(20) {
                    args.extend([b"STORE".to_vec(), self.key()]);
                }
                self.cmd("SORT", args)
            }
            13 => {
                let mut args = vec![k, self.key()];
                if self.chance(50) {
                    args.push(b"REPLACE".to_vec());
                }
                self.cmd("COPY", args)
            }
            14 => self.cmd("LPOP", vec![k]),
            _ => {
                let mut args = vec![k];
                if self.chance(50) {
                    args.push(self.small_index());
                }
                self.cmd("ZPOPMIN", args)
            }
        }
    }

    fn misc_command(&mut self) -> Command {
        match self.rng.random_range(0..3) {
            0 => self.cmd("PING", vec![]),
            1 => {
                let args = vec![self.value()];
                self.cmd("PING", args)
            }
            _ => {
                let args = vec![self.value()];
                self.cmd("ECHO", args)
            }
        }
    }
}
