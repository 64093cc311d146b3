//! Two-connection differential streams for transactions: steps for a first client (`A`, the one
//! that WATCHes and runs MULTI/EXEC/DISCARD/RESET) and a second one (`B`, whose writes, FLUSHDBs
//! and short-lived keys land on A's watched keys), the seeded generator of such streams, and the
//! runner that sends each step to the same connection of our server and of redis-server and
//! compares the replies with [`diff::replies_agree`] — an EXEC's array element by element, each
//! under the rule of the queued command it answers (so `KEYS` inside a transaction is compared as
//! a multiset too).
//!
//! Time: the only time-dependent step is a key that B writes with `PX` of a few milliseconds; the
//! generator always follows it with a [`Step::Pause`] several times longer, then with B's `EXISTS`
//! of the key, so at every later command the key is expired (and lazily deleted) on both servers,
//! whichever millisecond each ran the `SET` in. Everything else comes from [`Generator`], which
//! avoids time-dependent outcomes. This module does not start servers and asserts nothing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::diff::{self, Protocol, replies_agree, show_command};
use crate::generator::{Command, Generator, KEYS};
use crate::resp::{Frame, RawConn, escape};

/// One step of a two-connection stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A command on the first connection.
    A(Command),
    /// A command on the second connection.
    B(Command),
    /// Nothing sent for this long (lets a short `PX` expire on both servers).
    Pause(Duration),
}

/// Builds a command from text arguments.
#[must_use]
pub fn cmd(parts: &[&str]) -> Command {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// `Step::A` from text arguments.
#[must_use]
pub fn a(parts: &[&str]) -> Step {
    Step::A(cmd(parts))
}

/// `Step::B` from text arguments.
#[must_use]
pub fn b(parts: &[&str]) -> Step {
    Step::B(cmd(parts))
}

/// The `PX` of a short-lived key, and the pause after it (several times longer).
pub const SHORT_PX_MS: u64 = 15;
/// See [`SHORT_PX_MS`].
pub const SHORT_PAUSE: Duration = Duration::from_millis(80);

/// B writes `key` with a short `PX`, the stream pauses until it has expired on both servers, and
/// B's `EXISTS` deletes it lazily on both (so `DBSIZE` never counts it on one server only).
#[must_use]
pub fn short_lived(key: &[u8]) -> Vec<Step> {
    vec![
        Step::B(vec![b"SET".to_vec(), key.to_vec(), b"short".to_vec(), b"PX".to_vec(), SHORT_PX_MS.to_string().into()]),
        Step::Pause(SHORT_PAUSE),
        Step::B(vec![b"EXISTS".to_vec(), key.to_vec()]),
    ]
}

/// The seeded generator of transaction streams: blocks of plain commands on either connection,
/// stray EXEC/DISCARD/UNWATCH, and transactions (optional WATCH, the other client's interference,
/// MULTI, queued commands with errors of every kind, EXEC/DISCARD/RESET or nothing).
#[derive(Debug)]
pub struct TxGenerator {
    rng: StdRng,
    commands: Generator,
}

impl TxGenerator {
    /// A generator for `seed`; absolute expiries are offsets from `base_unix`.
    #[must_use]
    pub fn new(seed: u64, base_unix: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed ^ 0x7a5e), commands: Generator::new(seed, base_unix) }
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    fn key(&mut self) -> Vec<u8> {
        KEYS[self.rng.random_range(0..KEYS.len())].to_vec()
    }

    /// A command from the shared generator for B: anything but SELECT (B stays in db 0, where the
    /// short-lived keys are deleted).
    fn b_command(&mut self) -> Command {
        loop {
            let c = self.command();
            if !c[0].eq_ignore_ascii_case(b"SELECT") {
                return c;
            }
        }
    }

    /// The shared generator's next command.
    fn command(&mut self) -> Command {
        self.commands.next_command()
    }

    /// B's interference: a write to a key A may watch, a FLUSHDB, a short-lived key, or anything.
    fn interference(&mut self, out: &mut Vec<Step>) {
        match self.rng.random_range(0..10) {
            0..=3 => {
                let k = self.key();
                let v = format!("b{}", self.rng.random_range(0..100)).into_bytes();
                out.push(Step::B(vec![b"SET".to_vec(), k, v]));
            }
            4 => out.push(b(&[if self.chance(50) { "FLUSHDB" } else { "FLUSHALL" }])),
            5 => {
                let k = self.key();
                out.extend(short_lived(&k));
            }
            6 => {
                let k = self.key();
                out.push(Step::B(vec![b"DEL".to_vec(), k]));
            }
            _ => {
                let c = self.b_command();
                out.push(Step::B(c));
            }
        }
    }

    /// A command A queues (or runs): mostly generated ones, plus the multi-key and whole-keyspace
    /// commands a transaction must lock for, and the commands that are errors while queueing.
    fn queued(&mut self) -> Command {
        let (k1, k2) = (self.key(), self.key());
        match self.rng.random_range(0..40) {
            0 => vec![b"MSET".to_vec(), k1, b"m1".to_vec(), k2, b"m2".to_vec()],
            1 => vec![b"MSETNX".to_vec(), k1, b"n1".to_vec(), k2, b"n2".to_vec()],
            2 => vec![b"RENAME".to_vec(), k1, k2],
            3 => cmd(&["KEYS", "*"]),
            4 => cmd(&["DBSIZE"]),
            5 => cmd(&["FLUSHDB"]),
            6 => cmd(&["SELECT", if self.chance(50) { "1" } else { "0" }]),
            7 => cmd(&["MULTI"]),
            8 => vec![b"WATCH".to_vec(), k1],
            9 => vec![b"GET".to_vec()],
            10 => cmd(&["NOSUCHCMD", "x"]),
            11 => vec![b"INCR".to_vec(), k1],
            _ => self.command(),
        }
    }

    /// The next block of steps.
    pub fn next_block(&mut self) -> Vec<Step> {
        let mut out = Vec::new();
        match self.rng.random_range(0..100) {
            0..=19 => {
                for _ in 0..self.rng.random_range(1..4) {
                    let c = self.command();
                    out.push(Step::A(c));
                }
            }
            20..=29 => self.interference(&mut out),
            30..=35 => {
                let c = ["EXEC", "DISCARD", "UNWATCH", "RESET", "MULTI"][self.rng.random_range(0..5)];
                out.push(a(&[c]));
            }
            _ => self.transaction(&mut out),
        }
        out
    }

    fn transaction(&mut self, out: &mut Vec<Step>) {
        if self.chance(65) {
            let mut w = vec![b"WATCH".to_vec()];
            for _ in 0..self.rng.random_range(1..4) {
                w.push(self.key());
            }
            out.push(Step::A(w));
            for _ in 0..self.rng.random_range(0..3) {
                if self.chance(70) {
                    self.interference(out);
                } else {
                    let c = self.command();
                    out.push(Step::A(c));
                }
            }
        }
        out.push(a(&["MULTI"]));
        for _ in 0..self.rng.random_range(0..7) {
            if self.chance(15) {
                self.interference(out);
            } else {
                let c = self.queued();
                out.push(Step::A(c));
            }
        }
        let end = match self.rng.random_range(0..100) {
            0..=74 => Some("EXEC"),
            75..=89 => Some("DISCARD"),
            90..=94 => Some("RESET"),
            _ => None,
        };
        if let Some(end) = end {
            out.push(a(&[end]));
        }
    }
}

/// What a run did, so a test can check that it exercised what it claims.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOutcome {
    /// Steps compared (pauses excluded).
    pub compared: usize,
    /// Whether the run stopped at its time bound.
    pub hit_time_bound: bool,
    /// EXECs that ran their queue (an array reply).
    pub exec_ran: usize,
    /// EXECs answered null (a watched key was touched).
    pub exec_null: usize,
    /// EXECs answered `EXECABORT`.
    pub exec_abort: usize,
    /// Commands answered `QUEUED`.
    pub queued: usize,
}

/// Whether two EXEC replies agree: byte for byte, or as arrays of the same length whose elements
/// agree under the rule of the command `queued` at the same place.
fn exec_agrees(queued: &[Command], ours: &(Frame, Vec<u8>), theirs: &(Frame, Vec<u8>)) -> bool {
    if ours.1 == theirs.1 {
        return true;
    }
    let (Frame::Array(Some(x)), Frame::Array(Some(y))) = (&ours.0, &theirs.0) else { return false };
    let framed = |f: &Frame| (f.clone(), format!("{f:?}").into_bytes());
    x.len() == queued.len()
        && y.len() == queued.len()
        && queued.iter().zip(x.iter().zip(y)).all(|(c, (p, q))| diff::replies_agree(c, &framed(p), &framed(q)))
}

/// One server's two connections.
struct Pair {
    a: RawConn,
    b: RawConn,
}

fn is(cmd: &Command, name: &str) -> bool {
    cmd[0].eq_ignore_ascii_case(name.as_bytes())
}

/// The keys of a HELLO map and its `proto`: what two servers' HELLO replies must share.
fn hello_shape(f: &Frame) -> Option<(Vec<String>, String)> {
    let Frame::Map(pairs) = f else { return None };
    let keys = pairs.iter().map(|(k, _)| format!("{k:?}")).collect();
    let proto = pairs.iter().find(|(k, _)| format!("{k:?}").contains("proto")).map(|(_, v)| format!("{v:?}"))?;
    Some((keys, proto))
}

/// Sends `HELLO 3` on both connections of both servers and compares the replies' shapes.
fn hello3(conns: [&mut RawConn; 2]) -> Result<(), String> {
    let [x, y] = conns;
    let rx = x.cmd(&["HELLO", "3"]).map_err(|e| format!("ours: HELLO 3: {e}"))?;
    let ry = y.cmd(&["HELLO", "3"]).map_err(|e| format!("redis: HELLO 3: {e}"))?;
    if hello_shape(&rx).is_none() || hello_shape(&rx) != hello_shape(&ry) {
        return Err(format!("HELLO 3 replies differ in shape:\n  ours:  {rx:?}\n  redis: {ry:?}"));
    }
    Ok(())
}

fn connect(addr: SocketAddr, who: &str) -> Result<Pair, String> {
    let c = || RawConn::connect(addr).map_err(|e| format!("{who}: connect: {e}"));
    Ok(Pair { a: c()?, b: c()? })
}

fn show(step: &Step) -> String {
    match step {
        Step::A(c) => format!("A: {}", show_command(c)),
        Step::B(c) => format!("B: {}", show_command(c)),
        Step::Pause(d) => format!("(pause {} ms)", d.as_millis()),
    }
}

/// Runs `steps` against `ours` and `reference` (two connections to each, both switched to RESP3
/// by `HELLO 3` first when `protocol` says so, and again after each `RESET`, which returns a
/// connection to RESP2), comparing every reply; stops at the first mismatch with a report of the
/// label, the step's index, the last steps before it and both replies, or at `time_bound`.
///
/// # Errors
///
/// The mismatch report, or an I/O error from either server.
pub fn run(
    ours: SocketAddr,
    reference: SocketAddr,
    label: &str,
    steps: impl IntoIterator<Item = Step>,
    protocol: Protocol,
    time_bound: Duration,
) -> Result<TxOutcome, String> {
    let mut x = connect(ours, "ours")?;
    let mut y = connect(reference, "redis")?;
    for conn in [&mut x.a, &mut y.a] {
        let r = conn.cmd(&["FLUSHALL"]).map_err(|e| format!("FLUSHALL: {e}"))?;
        if r != Frame::Simple(b"OK".to_vec()) {
            return Err(format!("FLUSHALL before the run answered {r:?}"));
        }
    }
    if protocol == Protocol::Resp3 {
        hello3([&mut x.a, &mut y.a])?;
        hello3([&mut x.b, &mut y.b])?;
    }
    let started = Instant::now();
    let mut outcome = TxOutcome::default();
    let mut recent: Vec<String> = Vec::new();
    let trace = std::env::var_os("CACHE_TESTS_TRACE").is_some();
    // A's commands that redis-server answered QUEUED since its last MULTI.
    let mut queued: Vec<Command> = Vec::new();
    for (index, step) in steps.into_iter().enumerate() {
        if started.elapsed() > time_bound {
            eprintln!("{label}: stopped at its time bound after {index} steps");
            outcome.hit_time_bound = true;
            return Ok(outcome);
        }
        let (command, on_a) = match &step {
            Step::Pause(d) => {
                std::thread::sleep(*d);
                recent.push(show(&step));
                continue;
            }
            Step::A(c) => (c, true),
            Step::B(c) => (c, false),
        };
        let (cx, cy) = if on_a { (&mut x.a, &mut y.a) } else { (&mut x.b, &mut y.b) };
        let at = || format!("{label}, step #{index} {}", show(&step));
        let rx = cx.cmd_raw(command).map_err(|e| format!("{}: ours: I/O error: {e}", at()))?;
        let ry = cy.cmd_raw(command).map_err(|e| format!("{}: redis: I/O error: {e}", at()))?;
        if trace {
            eprintln!("#{index} {} -> {:?}", show(&step), ry.0);
        }
        let agree =
            if on_a && is(command, "EXEC") { exec_agrees(&queued, &rx, &ry) } else { replies_agree(command, &rx, &ry) };
        if !agree {
            let tail = recent.iter().rev().take(40).rev().cloned().collect::<Vec<_>>().join("\n    ");
            return Err(format!(
                "MISMATCH ({label}, {protocol:?}, step #{index}): {}\n  ours:  {:?}\n         {}\n  redis: {:?}\n         {}\n  \
                 the steps before it:\n    {tail}",
                show(&step),
                rx.0,
                escape(&rx.1),
                ry.0,
                escape(&ry.1),
            ));
        }
        recent.push(format!("{} -> {:?}", show(&step), ry.0));
        outcome.compared += 1;
        if ry.0 == Frame::Simple(b"QUEUED".to_vec()) {
            outcome.queued += 1;
            queued.push(command.clone());
        } else if on_a && ["EXEC", "DISCARD", "RESET"].iter().any(|n| is(command, n)) {
            queued.clear();
        }
        if is(command, "EXEC") {
            match &ry.0 {
                Frame::Array(Some(_)) => outcome.exec_ran += 1,
                f if f.is_null() => outcome.exec_null += 1,
                f if f.error_text().is_some_and(|e| e.starts_with("EXECABORT")) => outcome.exec_abort += 1,
                _ => {}
            }
        }
        if protocol == Protocol::Resp3 && is(command, "RESET") {
            hello3([cx, cy])?;
        }
    }
    Ok(outcome)
}
