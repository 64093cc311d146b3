//! Differential runs: the same command sequence sent to our server and to a real `redis-server`,
//! replies compared.
//!
//! Replies are compared byte for byte, with exactly these documented exceptions:
//! - `TTL`/`PTTL`/`EXPIRETIME`/`PEXPIRETIME` return times: negative answers (-1, -2) must be equal,
//!   positive ones may differ by 1 s (or 1000 ms) because the two servers run each command a few
//!   microseconds apart and `TTL` rounds.
//! - `KEYS`, `HKEYS`, `HVALS` and `HGETALL` return elements in an order Redis does not define; they
//!   are compared as multisets (`HGETALL` as a multiset of field/value pairs).
//! - `HELLO` replies carry the server's name, version and connection id; only their shape is compared.
//!
//! It owns the comparison rules, the mismatch report (seed, index, command, both replies) and the
//! shape of a differential test file: a [`Suite`] (label, default seed, time bound) whose
//! [`Plan`]s (count, protocol, delivery, seed offset) start both servers ([`Plan::start`]: skipped
//! with a printed reason without `redis-server`, a failure under `CI=true`) and run a generator's
//! stream against them ([`Ready::check`]). It does not choose commands (`generator`, `gen_*`).
//!
//! ```no_run
//! use std::time::Duration;
//! use cache_tests::diff::{Delivery, Protocol, Source, Suite};
//! use cache_tests::gen_geo::GeoGenerator;
//!
//! const GEO: Suite = Suite { label: "geo differential", default_seed: 1, time_bound: Duration::from_secs(60) };
//!
//! let Some(run) = GEO.plan(6_000, Protocol::Resp2, Delivery::OneByOne, 0).start() else { return };
//! let mut generator = GeoGenerator::new(run.seed());
//! run.check(Source { next: &mut || generator.next_command(), agree: &|_, _, _| false });
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::generator::Command;
use crate::ours::ServerOpts;
use crate::redis_server::RedisServer;
use crate::resp::{Frame, RawConn, encode_command, escape};
use crate::subject::Subject;

/// Which RESP version a run speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2, the default of a new connection.
    Resp2,
    /// RESP3, switched on with `HELLO 3` before the run.
    Resp3,
}

/// How commands reach the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// One command, then its reply.
    OneByOne,
    /// Batches of 1..=`max_batch` commands written before any reply is read, each batch's bytes cut
    /// into random chunks of 1..=200 bytes (separate writes, `TCP_NODELAY`), so frames arrive split at
    /// every possible boundary and several arrive in one read.
    Pipelined {
        /// The largest batch.
        max_batch: usize,
    },
}

fn send(conn: &mut RawConn, bytes: &[u8], delivery: Delivery, wire: &mut StdRng) -> std::io::Result<()> {
    match delivery {
        Delivery::OneByOne => conn.send_raw(bytes),
        Delivery::Pipelined { .. } => {
            let mut rest = bytes;
            while !rest.is_empty() {
                let n = wire.random_range(1..=200).min(rest.len());
                conn.send_raw(&rest[..n])?;
                rest = &rest[n..];
            }
            Ok(())
        }
    }
}

/// The seed from `CACHE_TESTS_SEED` (a number, or `random` for one from the clock), or `default`.
#[must_use]
pub fn seed_from_env(default: u64) -> u64 {
    match std::env::var("CACHE_TESTS_SEED") {
        Ok(s) if s == "random" => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(default, |d| u64::from(d.subsec_nanos()) ^ d.as_secs()),
        Ok(s) => s.parse().unwrap_or_else(|_| panic!("CACHE_TESTS_SEED={s:?} is not a u64")),
        Err(_) => default,
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Commands sent to both servers and compared.
    pub compared: usize,
    /// Whether the run stopped at its time bound before sending all commands.
    pub hit_time_bound: bool,
    /// How many replies were errors (a run that is all errors would test little).
    pub errors: usize,
    /// How many replies were null.
    pub nulls: usize,
}

fn name_of(cmd: &Command) -> String {
    String::from_utf8_lossy(&cmd[0]).to_ascii_uppercase()
}

/// Renders a command like `redis-cli` would echo it.
#[must_use]
pub fn show_command(cmd: &Command) -> String {
    cmd.iter().map(|a| format!("\"{}\"", escape(a))).collect::<Vec<_>>().join(" ")
}

fn sorted(items: &[Frame]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|f| format!("{f:?}")).collect();
    v.sort();
    v
}

fn pairs_sorted(items: &[Frame]) -> Option<Vec<String>> {
    let chunks = items.chunks_exact(2);
    if !chunks.remainder().is_empty() {
        return None;
    }
    let mut v: Vec<String> = chunks.map(|p| format!("{:?} => {:?}", p[0], p[1])).collect();
    v.sort();
    Some(v)
}

fn map_sorted(pairs: &[(Frame, Frame)]) -> Vec<String> {
    let mut v: Vec<String> = pairs.iter().map(|(k, val)| format!("{k:?} => {val:?}")).collect();
    v.sort();
    v
}

/// Whether two replies to `cmd` agree under the rules in the module docs.
#[must_use]
pub fn replies_agree(cmd: &Command, ours: &(Frame, Vec<u8>), theirs: &(Frame, Vec<u8>)) -> bool {
    if ours.1 == theirs.1 {
        return true;
    }
    let name = name_of(cmd);
    match (&ours.0, &theirs.0, name.as_str()) {
        (Frame::Integer(a), Frame::Integer(b), "TTL" | "EXPIRETIME") => *a >= 0 && *b >= 0 && (a - b).abs() <= 1,
        (Frame::Integer(a), Frame::Integer(b), "PTTL" | "PEXPIRETIME") => *a >= 0 && *b >= 0 && (a - b).abs() <= 1000,
        (Frame::Array(Some(a)), Frame::Array(Some(b)), "KEYS" | "HKEYS" | "HVALS") => sorted(a) == sorted(b),
        (Frame::Set(a), Frame::Set(b), "KEYS" | "HKEYS" | "HVALS") => sorted(a) == sorted(b),
        (Frame::Array(Some(a)), Frame::Array(Some(b)), "HGETALL") => {
            pairs_sorted(a).is_some() && pairs_sorted(a) == pairs_sorted(b)
        }
        (Frame::Map(a), Frame::Map(b), "HGETALL") => map_sorted(a) == map_sorted(b),
        _ => false,
    }
}

/// An extra agreement rule: the command, our reply and redis-server's (parsed and raw).
pub type Agree = dyn Fn(&Command, &(Frame, Vec<u8>), &(Frame, Vec<u8>)) -> bool;

/// Where [`run_with`] takes its commands from, and the rules it adds to [`replies_agree`].
pub struct Source<'a> {
    /// The next command of the stream (deterministic for the run's seed).
    pub next: &'a mut dyn FnMut() -> Command,
    /// Extra agreement for replies that may differ legitimately (e.g. the members SRANDMEMBER
    /// picks): `true` accepts a pair that [`replies_agree`] rejects.
    pub agree: &'a Agree,
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").finish_non_exhaustive()
    }
}

/// Runs `count` commands of `source` (seed `seed`, delivered as `delivery`) against `ours` and
/// `reference`, comparing every reply, and stops at the first mismatch with a report naming the
/// seed, the command's index, the command and both replies. The loop is also bounded in time by
/// `time_bound`; reaching it ends the run early (reported in the [`Outcome`], not a failure: the
/// tests never assert on time).
///
/// # Errors
///
/// The mismatch report, or an I/O error from either server.
#[allow(clippy::too_many_arguments)]
pub fn run_with(
    ours: SocketAddr,
    reference: SocketAddr,
    seed: u64,
    count: usize,
    protocol: Protocol,
    delivery: Delivery,
    time_bound: Duration,
    source: Source<'_>,
) -> Result<Outcome, String> {
    let io = |who: &str, e: std::io::Error| format!("seed {seed}: {who}: I/O error: {e}");
    let mut a = RawConn::connect(ours).map_err(|e| io("ours", e))?;
    let mut b = RawConn::connect(reference).map_err(|e| io("redis", e))?;
    for conn in [&mut a, &mut b] {
        let r = conn.cmd(&["FLUSHALL"]).map_err(|e| io("setup", e))?;
        if r != Frame::Simple(b"OK".to_vec()) {
            return Err(format!("FLUSHALL before the run answered {r:?}"));
        }
    }
    if protocol == Protocol::Resp3 {
        let ra = a.cmd(&["HELLO", "3"]).map_err(|e| io("ours", e))?;
        let rb = b.cmd(&["HELLO", "3"]).map_err(|e| io("redis", e))?;
        let keys = |f: &Frame| match f {
            Frame::Map(p) => Some(p.iter().map(|(k, _)| format!("{k:?}")).collect::<Vec<_>>()),
            _ => None,
        };
        if keys(&ra).is_none() || keys(&ra) != keys(&rb) {
            return Err(format!("HELLO 3 replies differ in shape:\n  ours:  {ra:?}\n  redis: {rb:?}"));
        }
    }
    let started = Instant::now();
    let (mut errors, mut nulls) = (0, 0);
    // Batching and chunking draw from their own generator, so a seed sends the same commands
    // whatever the delivery.
    let mut wire = StdRng::seed_from_u64(seed ^ 0x0bad_c0de);
    let mut index = 0;
    while index < count {
        if started.elapsed() > time_bound {
            eprintln!("differential run stopped at its time bound after {index} of {count} commands");
            return Ok(Outcome { compared: index, hit_time_bound: true, errors, nulls });
        }
        let n = match delivery {
            Delivery::OneByOne => 1,
            Delivery::Pipelined { max_batch } => wire.random_range(1..=max_batch.max(1)),
        }
        .min(count - index);
        let cmds: Vec<Command> = (0..n).map(|_| (source.next)()).collect();
        let bytes: Vec<u8> = cmds.iter().flat_map(|c| encode_command(c)).collect();
        let at = |i: usize| format!("command #{} {}", index + i, show_command(&cmds[i]));
        send(&mut a, &bytes, delivery, &mut wire).map_err(|e| format!("{} at {}", io("ours", e), at(0)))?;
        send(&mut b, &bytes, delivery, &mut wire).map_err(|e| format!("{} at {}", io("redis", e), at(0)))?;
        for (i, cmd) in cmds.iter().enumerate() {
            let ra = a.read_frame_raw().map_err(|e| format!("{} at {}", io("ours", e), at(i)))?;
            let rb = b.read_frame_raw().map_err(|e| format!("{} at {}", io("redis", e), at(i)))?;
            if !replies_agree(cmd, &ra, &rb) && !(source.agree)(cmd, &ra, &rb) {
                return Err(format!(
                    "MISMATCH (seed {seed}, {protocol:?}, {delivery:?}, command #{}): {}\n  ours:  {:?}\n         {}\n  \
                     redis: {:?}\n         {}\ngenerator seed {seed}",
                    index + i,
                    show_command(cmd),
                    ra.0,
                    escape(&ra.1),
                    rb.0,
                    escape(&rb.1)
                ));
            }
            errors += usize::from(rb.0.error_text().is_some());
            nulls += usize::from(rb.0.is_null());
            if std::env::var_os("CACHE_TESTS_TRACE").is_some() {
                eprintln!("#{} {} -> {:?}", index + i, show_command(cmd), rb.0);
            }
        }
        index += n;
    }
    Ok(Outcome { compared: count, hit_time_bound: false, errors, nulls })
}

/// What every run of one differential test file shares: what the log lines call it, its seed when
/// `CACHE_TESTS_SEED` is unset, and the wall-time bound of each run.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    /// What the log lines call the runs (`"geo differential"`).
    pub label: &'static str,
    /// The seed when `CACHE_TESTS_SEED` is unset.
    pub default_seed: u64,
    /// Each run's loop stops there (reported, not failed).
    pub time_bound: Duration,
}

impl Suite {
    /// The plan of one run of this suite: `count` commands in `protocol` and `delivery`, its seed
    /// XORed with `seed_offset` (each run of a file has its own offset).
    #[must_use]
    pub const fn plan(&self, count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) -> Plan {
        Plan {
            label: self.label,
            default_seed: self.default_seed,
            seed_offset,
            count,
            protocol,
            delivery,
            time_bound: self.time_bound,
        }
    }
}

/// One seeded differential run of a test: its label, its default seed and the offset it XORs in
/// (so RESP2, RESP3 and pipelined runs of one file draw different streams from one
/// `CACHE_TESTS_SEED`), how many commands, in which protocol and delivery, within what time.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// What the log lines call the run (`"geo differential"`).
    pub label: &'static str,
    /// The seed when `CACHE_TESTS_SEED` is unset.
    pub default_seed: u64,
    /// XORed into the chosen seed.
    pub seed_offset: u64,
    /// Commands to compare.
    pub count: usize,
    /// RESP2 or RESP3.
    pub protocol: Protocol,
    /// One by one or pipelined.
    pub delivery: Delivery,
    /// The loop stops there (reported, not failed).
    pub time_bound: Duration,
}

impl Plan {
    /// The seed of this run: `CACHE_TESTS_SEED` (or the default) XOR the offset.
    #[must_use]
    pub fn seed(&self) -> u64 {
        seed_from_env(self.default_seed) ^ self.seed_offset
    }

    /// Starts a fresh `redis-server` and the server under test (in this process, default
    /// options: [`Subject::start`]) for this run.
    ///
    /// `None`, after printing why, when `redis-server` is not installed: the test then returns
    /// and passes on a developer's machine.
    ///
    /// # Panics
    ///
    /// Under `CI=true` when `redis-server` is missing (see [`crate::peer::require_peer`]), or when
    /// a server does not start.
    #[must_use]
    pub fn start(self) -> Option<Ready> {
        self.start_with(Subject::start)
    }

    /// As [`Plan::start`], with the server under test started by `subject` from default options
    /// (e.g. [`Subject::start_process`] for a run that changes process-wide settings).
    ///
    /// # Panics
    ///
    /// As [`Plan::start`].
    #[must_use]
    pub fn start_with(self, subject: fn(&ServerOpts) -> Option<Subject>) -> Option<Ready> {
        let reference = RedisServer::start::<&str>(&[])?;
        let subject = subject(&ServerOpts::default())?;
        Some(Ready { plan: self, reference, subject })
    }

    /// Runs `source` against `ours` and `reference` ([`run_with`]) and fails the test on a
    /// mismatch, with the seed that replays it, or when every reply was an error (such a run
    /// tests little).
    ///
    /// # Panics
    ///
    /// On a mismatch, an I/O error, or a run of errors only.
    pub fn check(&self, ours: SocketAddr, reference: SocketAddr, source: Source<'_>) -> Outcome {
        tests_something(self.compare(ours, reference, source))
    }

    /// As [`Plan::check`] without the assertion on errors: fails the test on a mismatch only, and
    /// returns the outcome for the test's own assertions.
    ///
    /// # Panics
    ///
    /// On a mismatch or an I/O error.
    pub fn compare(&self, ours: SocketAddr, reference: SocketAddr, source: Source<'_>) -> Outcome {
        self.compare_as("", ours, reference, source)
    }

    fn compare_as(&self, who: &str, ours: SocketAddr, reference: SocketAddr, source: Source<'_>) -> Outcome {
        let (label, seed) = (self.label, self.seed());
        eprintln!("{label} {:?} {:?}:{who} seed {seed}, {} commands", self.protocol, self.delivery, self.count);
        match run_with(ours, reference, seed, self.count, self.protocol, self.delivery, self.time_bound, source) {
            Ok(outcome) => {
                eprintln!("{label} {:?}: {outcome:?}", self.protocol);
                outcome
            }
            Err(report) => panic!(
                "{report}\nreproduce with CACHE_TESTS_SEED={} (this test uses it XOR {})",
                seed_from_env(self.default_seed),
                self.seed_offset
            ),
        }
    }
}

/// `outcome`, unless every reply of the run was an error: such a run tests little.
fn tests_something(outcome: Outcome) -> Outcome {
    assert!(outcome.errors < outcome.compared, "a run of errors only tests little: {outcome:?}");
    outcome
}

/// A differential run with both servers up ([`Plan::start`]): the servers stop when it drops.
#[derive(Debug)]
pub struct Ready {
    /// The run.
    pub plan: Plan,
    /// The real `redis-server`.
    pub reference: RedisServer,
    /// The server under test.
    pub subject: Subject,
}

impl Ready {
    /// The run's seed, for its generator ([`Plan::seed`]).
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.plan.seed()
    }

    /// [`Plan::check`] against the two servers: a mismatch or a run of errors only fails the test.
    ///
    /// # Panics
    ///
    /// As [`Plan::check`].
    pub fn check(&self, source: Source<'_>) -> Outcome {
        tests_something(self.compare(source))
    }

    /// [`Plan::compare`] against the two servers: only a mismatch fails the test.
    ///
    /// # Panics
    ///
    /// As [`Plan::compare`].
    pub fn compare(&self, source: Source<'_>) -> Outcome {
        let who = format!(" {} vs redis-server,", self.subject.name());
        self.plan.compare_as(&who, self.subject.addr(), self.reference.addr(), source)
    }
}

/// `setup`'s commands first, then `rest`'s: a run that configures both servers (`CONFIG SET …`)
/// as the first commands of its stream.
pub fn after_setup(setup: Vec<Command>, mut rest: impl FnMut() -> Command) -> impl FnMut() -> Command {
    let mut setup = setup.into_iter();
    move || setup.next().unwrap_or_else(&mut rest)
}

/// Whether the server at `addr` knows `command` (`COMMAND INFO` names it).
#[must_use]
pub fn knows(addr: SocketAddr, command: &str) -> bool {
    let Ok(mut c) = RawConn::connect(addr) else { return false };
    matches!(c.cmd(&["COMMAND", "INFO", command]), Ok(Frame::Array(Some(v))) if matches!(v.first(), Some(Frame::Array(Some(_)))))
}
