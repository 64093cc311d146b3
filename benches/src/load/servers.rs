//! The three servers of the side-by-side comparison, started as child processes on loopback with
//! equal resources: each pinned to one CPU with `taskset -c <cpu>`, persistence off, one worker
//! thread where the server has such a setting, and the same memory budget. Killed on drop.
//!
//! Owns spawning, finding free ports and waiting for the listener; it installs nothing — a missing
//! program is an error that says which package to install.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Our `cache-server` (RESP port and `--memcached-port`).
    Ours,
    /// `redis-server`.
    Redis,
    /// `memcached`.
    Memcached,
}

impl Kind {
    /// Display name.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Redis => "redis",
            Self::Memcached => "memcached",
        }
    }
}

/// How to start the servers.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Our server's executable.
    pub ours: PathBuf,
    /// `redis-server`.
    pub redis: PathBuf,
    /// `memcached`.
    pub memcached: PathBuf,
    /// `taskset`.
    pub taskset: PathBuf,
    /// The CPU list every server is pinned to (`taskset -c`).
    pub cpu: String,
    /// Memory budget of every server, MiB.
    pub budget_mb: u64,
}

impl Setup {
    /// Finds the peer programs on `PATH`.
    ///
    /// # Errors
    /// When one is missing, with the command that installs it.
    pub fn find(ours: PathBuf, cpu: String, budget_mb: u64) -> Result<Self> {
        let need = |name: &str, package: &str| {
            which(name).with_context(|| {
                format!("`{name}` not found on PATH; install it with `apt-get install {package}` (nothing is installed for you)")
            })
        };
        if !ours.is_file() {
            bail!("{} not found; build it with `cargo build --release -p cache-server`", ours.display());
        }
        Ok(Self {
            redis: need("redis-server", "redis-server")?,
            memcached: need("memcached", "memcached")?,
            taskset: need("taskset", "util-linux")?,
            ours,
            cpu,
            budget_mb,
        })
    }

    /// The command line (after `taskset -c <cpu>`) that starts `kind` on `port` (and `mc_port`).
    #[must_use]
    pub fn args(&self, kind: Kind, port: u16, mc_port: u16) -> (PathBuf, Vec<String>) {
        let mb = self.budget_mb;
        let s = |v: &[&str]| v.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        match kind {
            Kind::Ours => (self.ours.clone(), {
                let mut a = s(&["--bind", "127.0.0.1", "--threads", "1", "--loglevel", "warning"]);
                a.extend(["--port".into(), port.to_string(), "--memcached-port".into(), mc_port.to_string()]);
                a.extend(["--maxmemory".into(), format!("{mb}mb")]);
                a
            }),
            Kind::Redis => (self.redis.clone(), {
                let mut a = s(&["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"]);
                a.extend(["--port".into(), port.to_string(), "--maxmemory".into(), format!("{mb}mb")]);
                a
            }),
            Kind::Memcached => (self.memcached.clone(), {
                let mut a = s(&["-l", "127.0.0.1", "-U", "0", "-t", "1", "-c", "4096"]);
                a.extend(["-p".into(), port.to_string(), "-m".into(), mb.to_string()]);
                if running_as_root() {
                    a.extend(s(&["-u", "root"]));
                }
                a
            }),
        }
    }
}

/// A running, pinned server; killed and reaped on drop.
#[derive(Debug)]
pub struct Server {
    /// Which server.
    pub kind: Kind,
    /// Its process id (`taskset` execs the server, so this is the server itself).
    pub pid: u32,
    /// RESP address (ours, Redis).
    pub resp: Option<SocketAddr>,
    /// Memcached-text address (ours, memcached).
    pub memcache: Option<SocketAddr>,
    /// The full command line, for the report.
    pub command: String,
    child: Child,
}

impl Server {
    /// Starts `kind` pinned to `setup.cpu` and waits until every listener accepts connections.
    ///
    /// # Errors
    /// When it cannot be spawned or does not listen within 20 s.
    pub fn start(setup: &Setup, kind: Kind) -> Result<Self> {
        let (port, mc_port) = (free_port()?, free_port()?);
        let (bin, args) = setup.args(kind, port, mc_port);
        let mut child = Command::new(&setup.taskset)
            .arg("-c")
            .arg(&setup.cpu)
            .arg(&bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let command = format!("taskset -c {} {} {}", setup.cpu, bin.display(), shell_words(&args));
        let at = |p| SocketAddr::from((Ipv4Addr::LOCALHOST, p));
        let (resp, memcache) = match kind {
            Kind::Ours => (Some(at(port)), Some(at(mc_port))),
            Kind::Redis => (Some(at(port)), None),
            Kind::Memcached => (None, Some(at(port))),
        };
        for addr in resp.iter().chain(memcache.iter()) {
            if !wait_for(*addr, &mut child) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{command} did not listen on {addr}");
            }
        }
        Ok(Self { kind, pid: child.id(), resp, memcache, command, child })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Polls `addr` for up to 20 s while `child` lives.
fn wait_for(addr: SocketAddr, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// `name` on `PATH`, if it is there.
#[must_use]
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// True when this process runs as root (memcached then needs `-u root` to start).
#[must_use]
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().find(|l| l.starts_with("Uid:")).is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

/// Arguments joined for display, empty ones quoted.
#[must_use]
pub fn shell_words(args: &[String]) -> String {
    args.iter().map(|a| if a.is_empty() { "''".to_owned() } else { a.clone() }).collect::<Vec<_>>().join(" ")
}
