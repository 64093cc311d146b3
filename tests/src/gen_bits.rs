//! The seeded generator of bitmap and HyperLogLog command streams for `bits_differential`.
//!
//! It owns *what* is sent: SETBIT/GETBIT at small, byte-edge and out-of-range offsets (never an
//! offset that would make either server allocate hundreds of megabytes: huge offsets only reach
//! reads, wrong types or invalid bit values), BITCOUNT and BITPOS with BYTE/BIT ranges, negative and
//! reversed indexes and malformed arguments, BITOP with every operation and missing or wrong-typed
//! sources, BITFIELD and BITFIELD_RO with every type width, `#` offsets, SET/INCRBY/GET and each
//! OVERFLOW mode, the string commands that share the bytes (GET, SETRANGE, GETRANGE, APPEND,
//! STRLEN); and PFADD bursts that push HyperLogLogs across the sparse → dense switch, PFCOUNT of one
//! and several keys, PFMERGE, GET of the raw HLL bytes (compared byte for byte), PFDEBUG, and
//! strings that only look like HLLs (short, wrong magic, corrupt sparse opcodes, random dense
//! registers); now and then EXPIRE/TTL on those keys and short MULTI/EXEC blocks. It must stay
//! deterministic for a seed; it does not talk to servers.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::draw::Draw;
use crate::generator::Command;

/// Strings used as bitmaps.
const BKEYS: &[&[u8]] = &[b"b0", b"b1", b"b2", b"b\x00\xff"];
/// HyperLogLogs.
const HKEYS: &[&[u8]] = &[b"h0", b"h1", b"h2", b"h3"];
/// A plain string, a list, a string that only looks like an HLL, and a key nothing creates.
const OTHER: &[&[u8]] = &[b"str", b"list", b"fake", b"none"];

/// Offsets that are not bits of a small string.
const BAD_OFFSETS: &[&str] = &["-1", "x", "1.5", "", "+1", " 1", "4294967296", "99999999999999999999", "0x10"];
/// Bitfield types, valid and not.
const BAD_TYPES: &[&str] = &["u64", "i65", "i0", "u0", "I8", "U8", "8", "i", "u-1", "i08", "x8"];
/// Values for BITFIELD SET/INCRBY beyond small numbers.
const EXTREMES: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "4294967295",
    "-4294967296",
    "255",
    "-128",
    "x",
    "1.5",
];

/// Generates bitmap and HyperLogLog command streams for one seed.
#[derive(Debug)]
pub struct BitsGenerator {
    rng: StdRng,
    /// Commands already decided (setup of the other types).
    queue: VecDeque<Command>,
}

impl Draw for BitsGenerator {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
}

impl BitsGenerator {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let mut queue = VecDeque::new();
        queue.push_back(vec![b"SET".to_vec(), b"str".to_vec(), b"foobar".to_vec()]);
        queue.push_back(vec![b"RPUSH".to_vec(), b"list".to_vec(), b"a".to_vec()]);
        queue.push_back(vec![b"SET".to_vec(), b"fake".to_vec(), b"HYLL-but-no".to_vec()]);
        Self { rng: StdRng::seed_from_u64(seed), queue }
    }

    fn cmd(&mut self, name: &str, args: Vec<Vec<u8>>) -> Command {
        let mut c = vec![self.word(name)];
        c.extend(args);
        c
    }

    fn bkey(&mut self) -> Vec<u8> {
        if self.chance(85) { self.pick(BKEYS).to_vec() } else { self.pick(OTHER).to_vec() }
    }

    fn hkey(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=84 => self.pick(HKEYS).to_vec(),
            85..=89 => self.pick(BKEYS).to_vec(),
            _ => self.pick(OTHER).to_vec(),
        }
    }

    fn num(&mut self, lo: i64, hi: i64) -> Vec<u8> {
        self.rng.random_range(lo..hi).to_string().into_bytes()
    }

    /// A bit offset: mostly within a few hundred bytes, sometimes a byte edge or far out.
    fn offset(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=69 => self.num(0, 400),
            70..=84 => {
                let byte = [0i64, 1, 7, 8, 31, 32, 63, 64, 100][self.rng.random_range(0..9)];
                (byte * 8 + self.rng.random_range(-1..=8i64)).max(0).to_string().into_bytes()
            }
            85..=89 => self.num(0, 80_000),
            _ => self.pick(BAD_OFFSETS).as_bytes().to_vec(),
        }
    }

    /// An index for BITCOUNT/BITPOS ranges.
    fn index(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=79 => self.num(-40, 60),
            80..=89 => ["0", "-1", "9223372036854775807", "-9223372036854775808"][self.rng.random_range(0..4)]
                .as_bytes()
                .to_vec(),
            _ => ["x", "1.5", "", "+1"][self.rng.random_range(0..4)].as_bytes().to_vec(),
        }
    }

    fn unit(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0..=4 => self.word("BYTE"),
            5..=8 => self.word("BIT"),
            _ => b"bits".to_vec(),
        }
    }

    fn element(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0..=7 => format!("e{}", self.rng.random_range(0..60_000)).into_bytes(),
            8 => ["", "a", "b", "\x00", "élément"][self.rng.random_range(0..5)].as_bytes().to_vec(),
            _ => {
                let mut v = vec![0; self.rng.random_range(0..40)];
                self.rng.fill_bytes(&mut v);
                v
            }
        }
    }

    fn bitfield_type(&mut self) -> (Vec<u8>, u32) {
        if self.chance(5) {
            return (self.pick(BAD_TYPES).as_bytes().to_vec(), 8);
        }
        let signed = self.chance(50);
        let bits = match self.rng.random_range(0..10) {
            0..=5 => [1u32, 2, 3, 4, 5, 7, 8, 9, 12, 16][self.rng.random_range(0..10)],
            6..=7 => [31u32, 32, 33, 48, 62, 63][self.rng.random_range(0..6)],
            _ => self.rng.random_range(1..=63),
        };
        let bits = if signed && self.chance(20) { 64 } else { bits };
        (format!("{}{bits}", if signed { 'i' } else { 'u' }).into_bytes(), bits)
    }

    fn bitfield_offset(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=59 => self.num(0, 300),
            60..=84 => format!("#{}", self.rng.random_range(0..40)).into_bytes(),
            85..=89 => b"#x".to_vec(),
            _ => self.pick(BAD_OFFSETS).as_bytes().to_vec(),
        }
    }

    fn bitfield_value(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=69 => self.num(-300, 300),
            70..=84 => self.num(i64::from(i32::MIN), i64::from(i32::MAX)),
            _ => self.pick(EXTREMES).as_bytes().to_vec(),
        }
    }

    fn bitfield(&mut self, read_only: bool) -> Command {
        let key = self.bkey();
        let mut args = vec![key];
        for _ in 0..self.rng.random_range(0..5) {
            match self.rng.random_range(0..100) {
                0..=39 => {
                    args.push(self.word("GET"));
                    let (t, _) = self.bitfield_type();
                    args.push(t);
                    args.push(self.bitfield_offset());
                }
                40..=64 => {
                    args.push(self.word("SET"));
                    let (t, _) = self.bitfield_type();
                    args.push(t);
                    args.push(self.bitfield_offset());
                    args.push(self.bitfield_value());
                }
                65..=89 => {
                    args.push(self.word("INCRBY"));
                    let (t, _) = self.bitfield_type();
                    args.push(t);
                    args.push(self.bitfield_offset());
                    args.push(self.bitfield_value());
                }
                90..=97 => {
                    args.push(self.word("OVERFLOW"));
                    let mode = ["WRAP", "SAT", "FAIL", "wrap", "sat", "fail", "nope"][self.rng.random_range(0..7)];
                    args.push(mode.as_bytes().to_vec());
                }
                _ => {
                    // Truncated or unknown operation.
                    let w = ["GET", "SET", "FOO", "OVERFLOW"][self.rng.random_range(0..4)];
                    args.push(self.word(w));
                }
            }
        }
        self.cmd(if read_only { "BITFIELD_RO" } else { "BITFIELD" }, args)
    }

    fn bitmap_command(&mut self) -> Command {
        match self.rng.random_range(0..100) {
            0..=24 => {
                let (k, o) = (self.bkey(), self.offset());
                let bit = match self.rng.random_range(0..20) {
                    0 => b"2".to_vec(),
                    1 => b"x".to_vec(),
                    2 => b"-1".to_vec(),
                    n => (n % 2).to_string().into_bytes(),
                };
                self.cmd("SETBIT", vec![k, o, bit])
            }
            25..=34 => {
                let (k, o) = (self.bkey(), self.offset());
                self.cmd("GETBIT", vec![k, o])
            }
            35..=46 => {
                let mut args = vec![self.bkey()];
                match self.rng.random_range(0..10) {
                    0 => args.push(self.index()),
                    1..=2 => {}
                    n => {
                        args.push(self.index());
                        args.push(self.index());
                        if n >= 6 {
                            args.push(self.unit());
                        }
                        if n == 9 {
                            args.push(b"x".to_vec());
                        }
                    }
                }
                self.cmd("BITCOUNT", args)
            }
            47..=58 => {
                let bit = ["0", "1", "1", "0", "2", "x"][self.rng.random_range(0..6)].as_bytes().to_vec();
                let mut args = vec![self.bkey(), bit];
                for i in 0..self.rng.random_range(0..5) {
                    args.push(if i == 2 { self.unit() } else { self.index() });
                }
                self.cmd("BITPOS", args)
            }
            59..=66 => {
                let op = ["AND", "OR", "XOR", "NOT", "and", "not", "NAND"][self.rng.random_range(0..7)];
                let dest = if self.chance(80) { self.pick(BKEYS).to_vec() } else { b"dest".to_vec() };
                let mut args = vec![op.as_bytes().to_vec(), dest];
                let n = if op.eq_ignore_ascii_case("not") && self.chance(85) { 1 } else { self.rng.random_range(1..4) };
                for _ in 0..n {
                    args.push(self.bkey());
                }
                self.cmd("BITOP", args)
            }
            67..=80 => self.bitfield(false),
            81..=84 => self.bitfield(true),
            85..=88 => {
                let k = self.bkey();
                self.cmd("GET", vec![k])
            }
            89..=91 => {
                let (k, o) = (self.bkey(), self.num(0, 60));
                let mut v = vec![0; self.rng.random_range(0..6)];
                self.rng.fill_bytes(&mut v);
                self.cmd("SETRANGE", vec![k, o, v])
            }
            92..=93 => {
                let (k, s, e) = (self.bkey(), self.index(), self.index());
                self.cmd("GETRANGE", vec![k, s, e])
            }
            94..=95 => {
                let k = self.bkey();
                let mut v = vec![0; self.rng.random_range(1..4)];
                self.rng.fill_bytes(&mut v);
                self.cmd("APPEND", vec![k, v])
            }
            96 => {
                let k = self.bkey();
                self.cmd("STRLEN", vec![k])
            }
            97 => {
                let k = self.bkey();
                let sub = self.word("ENCODING");
                self.cmd("OBJECT", vec![sub, k])
            }
            98 => {
                let k = self.pick(BKEYS).to_vec();
                self.cmd("DEL", vec![k])
            }
            _ => self.huge_offset(),
        }
    }

    /// Offsets at the 512 MB edge where no allocation can follow (reads, wrong types, bad bits).
    fn huge_offset(&mut self) -> Command {
        match self.rng.random_range(0..6) {
            0 => self.cmd("SETBIT", vec![b"b0".to_vec(), b"4294967295".to_vec(), b"2".to_vec()]),
            1 => self.cmd("SETBIT", vec![b"list".to_vec(), b"4294967295".to_vec(), b"1".to_vec()]),
            2 => self.cmd("GETBIT", vec![b"b1".to_vec(), b"4294967295".to_vec()]),
            3 => self.cmd("BITFIELD", vec![b"b0".to_vec(), b"GET".to_vec(), b"u8".to_vec(), b"#536870911".to_vec()]),
            4 => self.cmd("BITFIELD", vec![b"b0".to_vec(), b"GET".to_vec(), b"i64".to_vec(), b"#67108864".to_vec()]),
            _ => self.cmd(
                "BITFIELD",
                vec![b"list".to_vec(), b"SET".to_vec(), b"u8".to_vec(), b"4294967288".to_vec(), b"1".to_vec()],
            ),
        }
    }

    /// A string that looks like an HLL but is not a valid one (or is a valid one made by hand).
    fn fake_hll(&mut self) -> Vec<u8> {
        let mut v = b"HYLL".to_vec();
        match self.rng.random_range(0..6) {
            0 => v.truncate(self.rng.random_range(0..4)),
            1 => {
                v.extend_from_slice(&[self.rng.random_range(0..3), 0, 0, 0]);
                v.extend_from_slice(&[0; 7]);
            }
            2 => {
                // A dense value with random registers (valid), stale cached cardinality.
                v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
                let mut regs = vec![0; 12288];
                self.rng.fill_bytes(&mut regs);
                v.extend(regs);
            }
            3 => {
                // A dense value of the wrong length.
                v.extend_from_slice(&[0; 12]);
                v.extend(vec![0; 100]);
            }
            _ => {
                // Sparse opcodes that may or may not cover 16384 registers.
                v.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
                for _ in 0..self.rng.random_range(0..6) {
                    match self.rng.random_range(0..3) {
                        0 => v.extend_from_slice(&[0x7f, 0xff]),
                        1 => v.push(self.rng.random_range(0x80..=0xff)),
                        _ => v.push(self.rng.random_range(0..0x40)),
                    }
                }
            }
        }
        v
    }

    fn hll_command(&mut self) -> Command {
        match self.rng.random_range(0..100) {
            0..=34 => {
                let mut args = vec![self.hkey()];
                let n = match self.rng.random_range(0..20) {
                    0 => 0,
                    1..=2 => self.rng.random_range(100..1500),
                    _ => self.rng.random_range(1..8),
                };
                for _ in 0..n {
                    args.push(self.element());
                }
                self.cmd("PFADD", args)
            }
            35..=54 => {
                let mut args = vec![self.hkey()];
                if self.chance(35) {
                    for _ in 0..self.rng.random_range(1..4) {
                        args.push(self.hkey());
                    }
                }
                self.cmd("PFCOUNT", args)
            }
            55..=64 => {
                let mut args = vec![self.hkey()];
                for _ in 0..self.rng.random_range(0..4) {
                    args.push(self.hkey());
                }
                self.cmd("PFMERGE", args)
            }
            65..=79 => {
                let k = self.hkey();
                self.cmd("GET", vec![k])
            }
            80..=87 => {
                let sub = ["ENCODING", "DECODE", "TODENSE", "GETREG", "nope"][self.rng.random_range(0..5)];
                let sub = self.word(sub);
                let k = self.hkey();
                self.cmd("PFDEBUG", vec![sub, k])
            }
            88..=90 => {
                let v = self.fake_hll();
                let k = if self.chance(90) { b"fake".to_vec() } else { self.pick(HKEYS).to_vec() };
                self.cmd("SET", vec![k, v])
            }
            91..=95 => {
                let k = self.pick(HKEYS).to_vec();
                self.cmd("DEL", vec![k])
            }
            96..=97 => {
                let k = self.hkey();
                let sub = self.word("ENCODING");
                self.cmd("OBJECT", vec![sub, k])
            }
            _ => {
                // Overwrite a header byte (magic, encoding, cached cardinality). Not the opcodes:
                // a sparse value ending in half an XZERO makes Redis read past the string's end.
                let (k, o) = (self.pick(HKEYS).to_vec(), self.num(0, 16));
                let v = vec![self.rng.random_range(0..=255u8)];
                self.cmd("SETRANGE", vec![k, o, v])
            }
        }
    }

    /// The next command.
    pub fn next_command(&mut self) -> Command {
        if let Some(c) = self.queue.pop_front() {
            return c;
        }
        match self.rng.random_range(0..100) {
            0..=1 => {
                // A short transaction: the commands run inside EXEC, with its keys held.
                let n = self.rng.random_range(1..4);
                for _ in 0..n {
                    let c = self.family_command();
                    self.queue.push_back(c);
                }
                self.queue.push_back(vec![b"EXEC".to_vec()]);
                vec![b"MULTI".to_vec()]
            }
            2..=3 => {
                // TTLs survive in-place writes (SETBIT, PFADD, PFCOUNT's cache) and die with BITOP.
                let k = if self.chance(50) { self.pick(BKEYS).to_vec() } else { self.pick(HKEYS).to_vec() };
                let secs = self.num(50, 500);
                self.cmd("EXPIRE", vec![k, secs])
            }
            4..=5 => {
                let k = if self.chance(50) { self.pick(BKEYS).to_vec() } else { self.pick(HKEYS).to_vec() };
                self.cmd("TTL", vec![k])
            }
            _ => self.family_command(),
        }
    }

    fn family_command(&mut self) -> Command {
        if self.chance(55) { self.bitmap_command() } else { self.hll_command() }
    }
}
