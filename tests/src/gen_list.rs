//! The seeded generator of list commands for `list_differential`.
//!
//! It owns *what* is sent for the list family: every list command with valid and invalid option
//! mixes (counts 0, negative, huge; out-of-range and extreme indexes; LPOS RANK/COUNT/MAXLEN
//! including RANK 0; LMOVE/RPOPLPUSH/LMPOP between lists, a string, a hash and the same key),
//! binary-safe elements (empty, NUL and CR LF, non-UTF-8, canonical and non-canonical integers at
//! the encoding edges, long ones that span chunks), wrong types and wrong arity, and the blocking
//! commands in the two forms whose reply does not depend on time: inside MULTI (nil at once) and on
//! a key just pushed to (served at once). A blocking command is never sent where it could wait.
//!
//! Deterministic for a seed; it does not talk to servers.

use crate::generator::Command;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::collections::VecDeque;

/// The list keys (binary-safe names), shared so commands collide on them.
const LISTS: &[&[u8]] = &[b"l0", b"l1", b"l2", b"bin\x00\xff\r\nlist", b""];
/// A key holding a string and one holding a hash, for WRONGTYPE.
const STRING_KEY: &[u8] = b"s0";
const HASH_KEY: &[u8] = b"h0";
/// A key no command writes.
const NO_KEY: &[u8] = b"nokey";

/// Elements at the edges of the encodings: integer widths, non-canonical integers, bytes.
const ELEMENTS: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"",
    b"\x00",
    b"\xff\xfe",
    b"\r\n",
    b"a b",
    "элемент".as_bytes(),
    b"0",
    b"1",
    b"-1",
    b"127",
    b"128",
    b"-4096",
    b"4095",
    b"4096",
    b"32767",
    b"-32769",
    b"8388608",
    b"2147483648",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"01",
    b"+1",
    b"-0",
    b" 1",
    b"1.5",
    b"xxx",
];

/// Integer arguments: small ones, edges, and texts that are not integers.
const INDEXES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "5",
    "-5",
    "100",
    "-100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "x",
    "",
    "1.0",
    "+1",
];

/// Counts for LPOP/RPOP/LMPOP/LREM/LPOS.
const COUNTS: &[&str] = &["0", "1", "2", "3", "10", "-1", "-2", "9223372036854775807", "x", "-9223372036854775808"];

/// Timeouts of blocking commands (never waited on: see the module docs).
const TIMEOUTS: &[&str] = &["0", "0.01", "1", "1.5", "-1", "-0.5", "x", "", "0x10"];

/// Generates list commands for one seed.
#[derive(Debug)]
pub struct ListGenerator {
    rng: StdRng,
    /// Commands of a sequence begun earlier (MULTI … EXEC, a push then a blocking pop).
    queued: VecDeque<Command>,
}

impl ListGenerator {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), queued: VecDeque::new() }
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    fn pick(&mut self, items: &[&[u8]]) -> Vec<u8> {
        items[self.rng.random_range(0..items.len())].to_vec()
    }

    fn pick_str(&mut self, items: &[&str]) -> Vec<u8> {
        items[self.rng.random_range(0..items.len())].as_bytes().to_vec()
    }

    /// Mostly a list key, now and then the string, the hash or a missing key.
    fn key(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..20) {
            0 => STRING_KEY.to_vec(),
            1 => HASH_KEY.to_vec(),
            2 => NO_KEY.to_vec(),
            _ => self.pick(LISTS),
        }
    }

    fn list_key(&mut self) -> Vec<u8> {
        self.pick(LISTS)
    }

    fn element(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..20) {
            0 => {
                let mut v = vec![0; self.rng.random_range(0..80)];
                self.rng.fill_bytes(&mut v);
                v
            }
            1 if self.chance(30) => vec![b'L'; self.rng.random_range(4000..4200)],
            2 if self.chance(10) => vec![b'H'; 9000],
            3 => self.rng.random_range(-70000i64..70000).to_string().into_bytes(),
            _ => self.pick(ELEMENTS),
        }
    }

    fn index(&mut self) -> Vec<u8> {
        if self.chance(60) { self.rng.random_range(-8i64..12).to_string().into_bytes() } else { self.pick_str(INDEXES) }
    }

    fn count(&mut self) -> Vec<u8> {
        self.pick_str(COUNTS)
    }

    fn side(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0 => b"UP".to_vec(),
            1 => b"left".to_vec(),
            2 => b"Right".to_vec(),
            3..=6 => b"LEFT".to_vec(),
            _ => b"RIGHT".to_vec(),
        }
    }

    fn timeout(&mut self) -> Vec<u8> {
        self.pick_str(TIMEOUTS)
    }

    /// A command name in a random letter case.
    fn name(&mut self, name: &str) -> Vec<u8> {
        if self.chance(25) { name.to_ascii_lowercase().into_bytes() } else { name.as_bytes().to_vec() }
    }

    fn cmd(&mut self, name: &str, args: Vec<Vec<u8>>) -> Command {
        let mut c = vec![self.name(name)];
        c.extend(args);
        c
    }

    /// The next command.
    pub fn next_command(&mut self) -> Command {
        if let Some(c) = self.queued.pop_front() {
            return c;
        }
        match self.rng.random_range(0..100) {
            0..=21 => self.push(),
            22..=31 => self.pop(),
            32..=41 => self.read(),
            42..=53 => self.edit(),
            54..=61 => self.lpos(),
            62..=71 => self.moves(),
            72..=79 => self.blocking(),
            80..=84 => self.other_types(),
            85..=88 => self.wrong_arity(),
            89 if self.chance(20) => self.big_push(),
            _ => {
                let k = self.list_key();
                self.cmd("LRANGE", vec![k, b"0".to_vec(), b"-1".to_vec()])
            }
        }
    }

    fn push(&mut self) -> Command {
        let name = *["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]
            .get(self.rng.random_range(0..6))
            .unwrap_or(&"LPUSH");
        let mut args = vec![self.key()];
        let n = self.rng.random_range(1..6);
        args.extend((0..n).map(|_| self.element()));
        self.cmd(name, args)
    }

    /// Enough elements at once to fill several 8 KiB chunks.
    fn big_push(&mut self) -> Command {
        let name = if self.chance(50) { "LPUSH" } else { "RPUSH" };
        let mut args = vec![self.list_key()];
        let n = self.rng.random_range(300..1500);
        args.extend((0..n).map(|i| if i % 7 == 0 { self.element() } else { format!("item-{i}").into_bytes() }));
        self.cmd(name, args)
    }

    fn pop(&mut self) -> Command {
        let name = if self.chance(50) { "LPOP" } else { "RPOP" };
        let mut args = vec![self.key()];
        if self.chance(50) {
            args.push(self.count());
        }
        self.cmd(name, args)
    }

    fn read(&mut self) -> Command {
        let k = self.key();
        match self.rng.random_range(0..4) {
            0 => self.cmd("LLEN", vec![k]),
            1 => {
                let args = vec![k, self.index()];
                self.cmd("LINDEX", args)
            }
            _ => {
                let args = vec![k, self.index(), self.index()];
                self.cmd("LRANGE", args)
            }
        }
    }

    fn edit(&mut self) -> Command {
        let k = self.key();
        match self.rng.random_range(0..8) {
            0 | 1 => {
                let args = vec![k, self.index(), self.element()];
                self.cmd("LSET", args)
            }
            2 | 3 => {
                let place = match self.rng.random_range(0..8) {
                    0 => b"middle".to_vec(),
                    1 => b"after".to_vec(),
                    2..=4 => b"BEFORE".to_vec(),
                    _ => b"AFTER".to_vec(),
                };
                let args = vec![k, place, self.element(), self.element()];
                self.cmd("LINSERT", args)
            }
            4 | 5 => {
                let args = vec![k, self.count(), self.element()];
                self.cmd("LREM", args)
            }
            _ => {
                // Mostly trims that keep a good part of the list, so lists stay long enough.
                let (start, end) = if self.chance(70) {
                    (self.rng.random_range(0i64..3).to_string(), self.rng.random_range(-3i64..-1).to_string())
                } else {
                    (
                        String::from_utf8_lossy(&self.index()).into_owned(),
                        String::from_utf8_lossy(&self.index()).into_owned(),
                    )
                };
                self.cmd("LTRIM", vec![k, start.into_bytes(), end.into_bytes()])
            }
        }
    }

    fn lpos(&mut self) -> Command {
        let mut args = vec![self.key(), self.element()];
        let opts = self.rng.random_range(0..4);
        for _ in 0..opts {
            match self.rng.random_range(0..7) {
                0 | 1 => {
                    let rank = self.pick_str(&[
                        "1",
                        "2",
                        "-1",
                        "-2",
                        "3",
                        "0",
                        "x",
                        "-9223372036854775808",
                        "9223372036854775807",
                    ]);
                    args.extend([b"RANK".to_vec(), rank]);
                }
                2 | 3 => {
                    let count = self.pick_str(&["0", "1", "2", "5", "-1", "x"]);
                    args.extend([b"COUNT".to_vec(), count]);
                }
                4 | 5 => {
                    let maxlen = self.pick_str(&["0", "1", "3", "10", "-1", "x"]);
                    args.extend([b"MAXLEN".to_vec(), maxlen]);
                }
                _ => args.push(self.pick_str(&["RANK", "FOO", "count"])),
            }
        }
        self.cmd("LPOS", args)
    }

    fn moves(&mut self) -> Command {
        let (src, dst) = (self.key(), if self.chance(20) { b"l0".to_vec() } else { self.key() });
        match self.rng.random_range(0..4) {
            0 => self.cmd("RPOPLPUSH", vec![src, dst]),
            1 | 2 => {
                let args = vec![src, dst, self.side(), self.side()];
                self.cmd("LMOVE", args)
            }
            _ => {
                let n = self.rng.random_range(1..4);
                let numkeys = if self.chance(10) {
                    self.pick_str(&["0", "-1", "x", "5", "9223372036854775807"])
                } else {
                    n.to_string().into_bytes()
                };
                let mut args = vec![numkeys];
                args.extend((0..n).map(|_| self.key()));
                args.push(self.side());
                if self.chance(50) {
                    args.extend([b"COUNT".to_vec(), self.count()]);
                }
                if self.chance(5) {
                    args.push(b"COUNT".to_vec());
                }
                self.cmd("LMPOP", args)
            }
        }
    }

    /// A blocking command whose reply does not depend on time: after a push to its (first) key,
    /// inside MULTI, or with an argument error.
    fn blocking(&mut self) -> Command {
        let key = self.list_key();
        let other = self.key();
        let timeout = if self.chance(85) { b"0".to_vec() } else { self.timeout() };
        let cmd = match self.rng.random_range(0..5) {
            0 => self.cmd("BLPOP", vec![key.clone(), other, timeout]),
            1 => self.cmd("BRPOP", vec![key.clone(), other, timeout]),
            2 => {
                let args = vec![key.clone(), other, self.side(), self.side(), timeout];
                self.cmd("BLMOVE", args)
            }
            3 => self.cmd("BRPOPLPUSH", vec![key.clone(), other, timeout]),
            _ => {
                let mut args = vec![timeout, b"2".to_vec(), key.clone(), other, self.side()];
                if self.chance(50) {
                    args.extend([b"COUNT".to_vec(), self.count()]);
                }
                self.cmd("BLMPOP", args)
            }
        };
        if self.chance(40) {
            // Inside MULTI: never blocks (nil at once when nothing can serve it).
            let exec = self.cmd("EXEC", vec![]);
            self.queued.extend([cmd, exec]);
            self.cmd("MULTI", vec![])
        } else {
            // The first key has an element, so it is served at once (or an argument error comes first).
            self.queued.push_back(cmd);
            let v = self.element();
            self.cmd("RPUSH", vec![key, v])
        }
    }

    fn other_types(&mut self) -> Command {
        match self.rng.random_range(0..6) {
            0 => self.cmd("SET", vec![STRING_KEY.to_vec(), b"x".to_vec()]),
            1 => self.cmd("HSET", vec![HASH_KEY.to_vec(), b"f".to_vec(), b"v".to_vec()]),
            2 => {
                let k = self.list_key();
                self.cmd("DEL", vec![k])
            }
            3 => {
                let k = self.key();
                self.cmd("TYPE", vec![k])
            }
            4 => {
                let k = self.list_key();
                self.cmd("EXPIRE", vec![k, b"1000".to_vec()])
            }
            _ => {
                let k = self.list_key();
                self.cmd("TTL", vec![k])
            }
        }
    }

    fn wrong_arity(&mut self) -> Command {
        let cases: &[(&str, usize)] = &[
            ("LPUSH", 1),
            ("RPUSHX", 1),
            ("LPOP", 0),
            ("LPOP", 3),
            ("RPOP", 4),
            ("LLEN", 2),
            ("LRANGE", 2),
            ("LINDEX", 1),
            ("LSET", 2),
            ("LINSERT", 3),
            ("LREM", 2),
            ("LTRIM", 4),
            ("LPOS", 1),
            ("LMOVE", 3),
            ("RPOPLPUSH", 1),
            ("LMPOP", 2),
            ("BLPOP", 1),
            ("BRPOP", 0),
            ("BLMOVE", 4),
            ("BRPOPLPUSH", 2),
            ("BLMPOP", 3),
        ];
        let (name, n) = cases[self.rng.random_range(0..cases.len())];
        let args = (0..n).map(|_| self.list_key()).collect();
        self.cmd(name, args)
    }
}
