//! Seeded values for the DUMP / RESTORE differential test (`tests/dump_restore.rs`): each case is
//! the commands that build one key, chosen to cover every type and the encodings Redis 7.0 gives
//! it (int / embstr / raw strings, LZF-compressible and incompressible ones, lists of one and of
//! many quicklist nodes, intsets of every width and hashtable sets, listpack and skiplist sorted
//! sets with integral, fractional and infinite scores, listpack and hashtable hashes), plus the
//! read commands that show the value back and how RESTORE is called (TTL, ABSTTL, REPLACE,
//! IDLETIME, FREQ). Streams come from their own [`DumpGenerator::stream_case`], so that the
//! sequence of the other cases stays what it was.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One value: how to build it and how to read it back.
#[derive(Debug, Clone)]
pub struct Case {
    /// What the case covers (for messages).
    pub label: String,
    /// Commands that build the key `{key}` (placeholder replaced by the caller).
    pub build: Vec<Vec<Vec<u8>>>,
    /// Read commands on `{key}` whose replies must agree; `sorted` ones compare as sorted lists.
    pub reads: Vec<(Vec<Vec<u8>>, bool)>,
    /// Whether our DUMP bytes must equal Redis's (false where Redis's order follows its dict).
    pub same_bytes: bool,
    /// RESTORE's TTL in ms (0: none) and whether it is absolute.
    pub ttl: u64,
    /// RESTORE options after the payload (`ABSTTL` is added from `ttl`).
    pub options: Vec<Vec<u8>>,
}

/// Seeded source of [`Case`]s.
#[derive(Debug)]
pub struct DumpGenerator {
    rng: StdRng,
}

fn args(words: &[&[u8]]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.to_vec()).collect()
}

impl DumpGenerator {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed) }
    }

    /// An element: a canonical integer of some width, a short or long string, binary bytes, empty.
    fn element(&mut self, long: bool) -> Vec<u8> {
        let r = &mut self.rng;
        match r.random_range(0..10) {
            0 => r.random_range(-200i64..200).to_string().into_bytes(),
            1 => r.random_range(-70_000i64..70_000).to_string().into_bytes(),
            2 => r.random::<i64>().to_string().into_bytes(),
            3 => r.random_range(-(1i64 << 31)..(1i64 << 31)).to_string().into_bytes(),
            4 => Vec::new(),
            5 => (0..r.random_range(1..30)).map(|_| r.random::<u8>()).collect(),
            6 if long => vec![b'x'; r.random_range(60..300)],
            7 => format!("0{}", r.random_range(0..100)).into_bytes(),
            _ => format!("e:{}", r.random_range(0..1_000_000)).into_bytes(),
        }
    }

    fn score(&mut self) -> Vec<u8> {
        let r = &mut self.rng;
        match r.random_range(0..8) {
            0 => b"inf".to_vec(),
            1 => b"-inf".to_vec(),
            2 => b"-0".to_vec(),
            3 => format!("{}", r.random::<f64>() * 1e6).into_bytes(),
            4 => format!("{:e}", r.random::<f64>() * 1e30).into_bytes(),
            5 => r.random::<i64>().to_string().into_bytes(),
            _ => r.random_range(-1000i64..1000).to_string().into_bytes(),
        }
    }

    /// The next case.
    pub fn next_case(&mut self) -> Case {
        let kind = self.rng.random_range(0..5);
        let big = self.rng.random_bool(0.3);
        let n = if big { self.rng.random_range(129..2500) } else { self.rng.random_range(1..40) };
        let long = self.rng.random_bool(0.2);
        let mut build = Vec::new();
        let mut same_bytes = true;
        let key: &[u8] = b"{key}";
        let (label, reads) = match kind {
            0 => {
                let v: Vec<u8> = match self.rng.random_range(0..7) {
                    0 => self.element(false),
                    1 => vec![b'a' + self.rng.random_range(0..3u8); self.rng.random_range(18..25)],
                    2 => (0..self.rng.random_range(21..20_000)).map(|i| b"abcd"[(i / 7 + i % 3) % 4]).collect(),
                    3 => (0..self.rng.random_range(21..5_000)).map(|_| self.rng.random::<u8>()).collect(),
                    4 => b"".to_vec(),
                    5 => self.rng.random::<i64>().to_string().into_bytes(),
                    _ => (0..self.rng.random_range(30..200)).map(|_| b"xy"[self.rng.random_range(0..2)]).collect(),
                };
                build.push(vec![b"SET".to_vec(), key.to_vec(), v]);
                ("string", vec![(args(&[b"GET", key]), false), (args(&[b"STRLEN", key]), false)])
            }
            1 => {
                let mut cmd = args(&[b"RPUSH", key]);
                for i in 0..n {
                    cmd.push(if self.rng.random_ratio(1, 400) { vec![b'L'; 9000] } else { self.element(long) });
                    if cmd.len() > 100 || i == n - 1 {
                        build.push(std::mem::replace(&mut cmd, args(&[b"RPUSH", key])));
                    }
                }
                ("list", vec![(args(&[b"LRANGE", key, b"0", b"-1"]), false), (args(&[b"LLEN", key]), false)])
            }
            2 => {
                let ints = self.rng.random_bool(0.5);
                let mut cmd = args(&[b"SADD", key]);
                for i in 0..n {
                    let m = if ints {
                        match self.rng.random_range(0..3) {
                            0 => self.rng.random_range(-30_000i64..30_000).to_string(),
                            1 => self.rng.random_range(-(1i64 << 31)..(1i64 << 31)).to_string(),
                            _ => self.rng.random::<i64>().to_string(),
                        }
                        .into_bytes()
                    } else {
                        self.element(long)
                    };
                    cmd.push(m);
                    if cmd.len() > 100 || i == n - 1 {
                        build.push(std::mem::replace(&mut cmd, args(&[b"SADD", key])));
                    }
                }
                // An intset past set-max-intset-entries (512) or any set of strings is a hashtable:
                // Redis writes it in its dict order.
                same_bytes = ints && n <= 512;
                ("set", vec![(args(&[b"SMEMBERS", key]), true), (args(&[b"SCARD", key]), false)])
            }
            3 => {
                let mut cmd = args(&[b"ZADD", key]);
                for i in 0..n {
                    let s = self.score();
                    let m = self.element(long);
                    cmd.push(s);
                    cmd.push(m);
                    if cmd.len() > 100 || i == n - 1 {
                        build.push(std::mem::replace(&mut cmd, args(&[b"ZADD", key])));
                    }
                }
                (
                    "zset",
                    vec![(args(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]), false), (args(&[b"ZCARD", key]), false)],
                )
            }
            _ => {
                let mut cmd = args(&[b"HSET", key]);
                for i in 0..n {
                    let f = self.element(long);
                    let v = self.element(long);
                    cmd.push(f);
                    cmd.push(v);
                    if cmd.len() > 100 || i == n - 1 {
                        build.push(std::mem::replace(&mut cmd, args(&[b"HSET", key])));
                    }
                }
                // A hashtable hash comes out in Redis's dict order: compared by contents only.
                same_bytes = !big && !long;
                ("hash", vec![(args(&[b"HGETALL", key]), big || long), (args(&[b"HLEN", key]), false)])
            }
        };
        let mut reads = reads;
        reads.push((args(&[b"TYPE", key]), false));
        reads.push((args(&[b"OBJECT", b"ENCODING", key]), false));
        let ttl = match self.rng.random_range(0..4) {
            0 | 1 => 0,
            2 => self.rng.random_range(10_000..1_000_000),
            _ => 1,
        };
        let mut options = Vec::new();
        if ttl == 1 {
            options.push(b"ABSTTL".to_vec()); // long past: the key is not created
        }
        match self.rng.random_range(0..4) {
            0 => options.extend(args(&[b"IDLETIME", b"100"])),
            1 => options.extend(args(&[b"FREQ", b"7"])),
            _ => {}
        }
        if self.rng.random_bool(0.3) {
            options.push(b"REPLACE".to_vec());
        }
        let label =
            format!("{label} of {n}{}{}", if long { " (long elements)" } else { "" }, if big { " big" } else { "" });
        Case { label, build, reads, same_bytes, ttl, options }
    }
}

impl DumpGenerator {
    /// A stream case: entries with explicit ids (so that both servers agree), some deleted by
    /// XDEL and exact or approximate XTRIM, sometimes empty, up to a few hundred entries (several
    /// nodes), and consumer groups with pending entries (XREADGROUP, XACK, XCLAIM,
    /// CREATECONSUMER). Read back with XRANGE, XLEN, XINFO STREAM FULL and XINFO GROUPS (the
    /// caller masks times).
    pub fn stream_case(&mut self) -> Case {
        let key: &[u8] = b"{key}";
        let r = &mut self.rng;
        let n: u64 = match r.random_range(0..4) {
            0 => r.random_range(0..3),
            1 => r.random_range(100..400),
            _ => r.random_range(3..60),
        };
        let mut build = Vec::new();
        let mut ids = Vec::new();
        let (mut ms, mut seq) = (r.random_range(1u64..1000), 0u64);
        let long = r.random_bool(0.2);
        for _ in 0..n {
            if self.rng.random_bool(0.5) {
                ms += self.rng.random_range(1..5000);
                seq = self.rng.random_range(0..3);
            } else {
                seq += self.rng.random_range(1..4);
            }
            let id = format!("{ms}-{seq}").into_bytes();
            ids.push(id.clone());
            let mut cmd = vec![b"XADD".to_vec(), key.to_vec(), id];
            if self.rng.random_bool(0.85) {
                for f in [&b"name"[..], b"n"] {
                    cmd.push(f.to_vec());
                    let v = self.element(long);
                    cmd.push(v);
                }
            } else {
                for _ in 0..self.rng.random_range(1..4) {
                    let f = self.element(false);
                    let v = self.element(long);
                    cmd.push(f);
                    cmd.push(v);
                }
            }
            build.push(cmd);
        }
        let r = &mut self.rng;
        if n == 0 {
            build.push(args(&[b"XGROUP", b"CREATE", key, b"g0", b"$", b"MKSTREAM"]));
        }
        for _ in 0..r.random_range(0..(n / 4 + 1)) {
            let id = ids[r.random_range(0..ids.len())].clone();
            build.push(vec![b"XDEL".to_vec(), key.to_vec(), id]);
        }
        if n > 0 && r.random_bool(0.3) {
            let keep = r.random_range(0..n).to_string().into_bytes();
            let how: &[u8] = if r.random_bool(0.5) { b"=" } else { b"~" };
            build.push(vec![b"XTRIM".to_vec(), key.to_vec(), b"MAXLEN".to_vec(), how.to_vec(), keep]);
        }
        if r.random_bool(0.2) {
            // Counters XADD alone does not give: a last id past the entries, more entries added
            // than ever held, a max deleted id no entry had.
            let last = format!("{}-0", ms + 100_000).into_bytes();
            let added = (n + 1000).to_string().into_bytes();
            let max_deleted = format!("{}-7", ms + 50).into_bytes();
            build.push(args(&[b"XSETID", key, &last, b"ENTRIESADDED", &added, b"MAXDELETEDID", &max_deleted]));
        }
        let groups = if n == 0 { 0 } else { r.random_range(0..3) };
        for g in 0..groups {
            let group = format!("g{g}").into_bytes();
            let start: &[u8] = if r.random_bool(0.7) { b"0" } else { b"$" };
            build.push(vec![b"XGROUP".to_vec(), b"CREATE".to_vec(), key.to_vec(), group.clone(), start.to_vec()]);
            for c in 0..r.random_range(0..4) {
                let consumer = format!("c{c}").into_bytes();
                let count = r.random_range(1..30).to_string().into_bytes();
                let mut cmd =
                    args(&[b"XREADGROUP", b"GROUP", &group, &consumer, b"COUNT", &count, b"STREAMS", key, b">"]);
                if r.random_bool(0.2) {
                    cmd = args(&[b"XGROUP", b"CREATECONSUMER", key, &group, &consumer]);
                }
                build.push(cmd);
            }
            for _ in 0..r.random_range(0..4) {
                let id = ids[r.random_range(0..ids.len())].clone();
                let verb: &[u8] = if r.random_bool(0.5) { b"XACK" } else { b"XCLAIM" };
                build.push(if verb == b"XACK" {
                    vec![verb.to_vec(), key.to_vec(), group.clone(), id]
                } else {
                    let retry = r.random_range(1..9).to_string().into_bytes();
                    args(&[verb, key, &group, b"c9", b"0", &id, b"RETRYCOUNT", &retry])
                });
            }
        }
        let reads = vec![
            (args(&[b"XRANGE", key, b"-", b"+"]), false),
            (args(&[b"XLEN", key]), false),
            (args(&[b"XINFO", b"STREAM", key, b"FULL"]), false),
            (args(&[b"XINFO", b"GROUPS", key]), false),
            (args(&[b"TYPE", key]), false),
        ];
        let options = if self.rng.random_bool(0.3) { vec![b"REPLACE".to_vec()] } else { Vec::new() };
        Case { label: format!("stream of {n}, {groups} groups"), build, reads, same_bytes: true, ttl: 0, options }
    }
}

/// `cmd` with the `{key}` placeholder replaced by `key`.
#[must_use]
pub fn with_key(cmd: &[Vec<u8>], key: &[u8]) -> Vec<Vec<u8>> {
    cmd.iter().map(|a| if a == b"{key}" { key.to_vec() } else { a.clone() }).collect()
}
