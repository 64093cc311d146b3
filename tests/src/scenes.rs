//! Scenes for blocking commands: a few connections step through sends, reads and waits for
//! clients to park, and the transcript of every reply is compared between our server and
//! redis-server (`tests/tests/blocking.rs` for list and sorted-set pops, `stream_differential.rs`
//! for XREAD). Each wait is bounded ([`WAIT_BOUND`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::diff::Protocol;
use crate::resp::{Frame, RawConn, encode_command, escape};

/// Bound on waiting for clients to be parked, and for one blocked reply.
pub const WAIT_BOUND: Duration = Duration::from_secs(10);

/// One step of a scene.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sends a command on connection `.0` and reads its reply.
    Call(usize, Vec<String>),
    /// Sends a command on connection `.0` without reading (it blocks).
    Send(usize, Vec<String>),
    /// Reads one reply on connection `.0`.
    Read(usize),
    /// Waits until the server reports this many parked clients.
    Parked(usize),
    /// Closes connection `.0` (a fresh one replaces it).
    Close(usize),
    /// `CLIENT UNBLOCK <id of .1> <.2>` sent on connection `.0`.
    Unblock(usize, usize, &'static str),
    /// Sleeps (only where a timeout must pass).
    Sleep(u64),
}

/// The words of a command line.
pub fn cmd(words: &str) -> Vec<String> {
    words.split(' ').map(str::to_owned).collect()
}

/// A [`Step::Call`] of `words` on connection `c`.
pub fn call(c: usize, words: &str) -> Step {
    Step::Call(c, cmd(words))
}

/// A [`Step::Send`] of `words` on connection `c`.
pub fn send(c: usize, words: &str) -> Step {
    Step::Send(c, cmd(words))
}

/// Plays `scene` on `addr` with `conns` connections and returns the transcript.
pub fn play(addr: SocketAddr, conns: usize, scene: &[Step], protocol: Protocol) -> Result<Vec<String>, String> {
    let io = |e: std::io::Error| e.to_string();
    let open = || -> Result<(RawConn, i64), String> {
        let mut c = RawConn::connect(addr).map_err(io)?;
        if protocol == Protocol::Resp3 {
            c.cmd(&["HELLO", "3"]).map_err(io)?;
        }
        let id = match c.cmd(&["CLIENT", "ID"]).map_err(io)? {
            Frame::Integer(id) => id,
            other => return Err(format!("CLIENT ID answered {other:?}")),
        };
        Ok((c, id))
    };
    let mut admin = RawConn::connect(addr).map_err(io)?;
    admin.cmd(&["FLUSHALL"]).map_err(io)?;
    let mut c: Vec<(RawConn, i64)> = (0..conns).map(|_| open()).collect::<Result<_, _>>()?;
    let mut transcript = Vec::new();
    for (i, step) in scene.iter().enumerate() {
        let mut record = |who: usize, (f, raw): (Frame, Vec<u8>)| {
            let _ = f;
            transcript.push(format!("#{i} c{who}: {}", escape(&raw)));
        };
        match step {
            Step::Call(n, args) => {
                let r = c[*n].0.cmd_raw(args).map_err(|e| format!("step {i} {step:?}: {e}"))?;
                record(*n, r);
            }
            Step::Send(n, args) => c[*n].0.send_raw(&encode_command(args)).map_err(io)?,
            Step::Read(n) => {
                let r = c[*n].0.read_frame_raw().map_err(|e| format!("step {i} {step:?}: {e}"))?;
                record(*n, r);
            }
            Step::Parked(want) => {
                let started = Instant::now();
                loop {
                    let got = parked(&mut admin)?;
                    if got == *want {
                        break;
                    }
                    if started.elapsed() > WAIT_BOUND {
                        return Err(format!("step {i}: {got} clients parked, want {want}"));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Step::Close(n) => {
                let _ = c[*n].0.stream().shutdown(std::net::Shutdown::Both);
                c[*n] = open()?;
            }
            Step::Unblock(n, target, how) => {
                let id = c[*target].1.to_string();
                let r = c[*n].0.cmd_raw(&["CLIENT", "UNBLOCK", id.as_str(), how]).map_err(io)?;
                record(*n, r);
            }
            Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }
    Ok(transcript)
}

/// The server's `blocked_clients` (INFO clients).
pub fn parked(admin: &mut RawConn) -> Result<usize, String> {
    let info = match admin.cmd(&["INFO", "clients"]).map_err(|e| e.to_string())? {
        Frame::Bulk(Some(b)) | Frame::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => return Err(format!("INFO answered {other:?}")),
    };
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no blocked_clients in {info}"))
}

/// Plays every scene `(name, connections, steps)` on redis-server and on our server in
/// `protocol` and fails the test at the first transcript that differs.
pub fn compare(reference: SocketAddr, ours: SocketAddr, scenes: &[(&str, usize, Vec<Step>)], protocol: Protocol) {
    for (name, conns, steps) in scenes {
        let theirs = play(reference, *conns, steps, protocol).unwrap_or_else(|e| panic!("redis, {name}: {e}"));
        let got = play(ours, *conns, steps, protocol).unwrap_or_else(|e| panic!("ours, {name}: {e}"));
        assert_eq!(got, theirs, "{name} ({protocol:?}): transcripts differ (left: ours, right: redis-server)");
        eprintln!("{name} ({protocol:?}): {} replies agree", got.len());
    }
}
