//! Our server under test, started two ways:
//! - [`OurServer`]: in this process, `cache_server::run` on a 127.0.0.1:0 listener, on its own tokio
//!   runtime on its own thread, shut down (through the `shutdown` future) on drop;
//! - [`OurProcess`]: the built binary as a child process (for tests that read its RSS or kill it),
//!   killed on drop.
//!
//! It owns turning [`ServerOpts`] into a `cache_server::Config` or command-line flags, and nothing
//! about what tests do with the server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::port::{START_TIMEOUT, answers_as, free_port, loopback};

/// Options a test may set on the server under test. Unset ones keep the server's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerOpts {
    /// `requirepass`.
    pub requirepass: Option<String>,
    /// `maxmemory` in bytes.
    pub maxmemory: Option<u64>,
    /// `maxmemory-policy`, spelled as in redis.conf (`noeviction`, `allkeys-lru`, ...).
    pub maxmemory_policy: Option<String>,
    /// Any other redis.conf directives, in order, as `(name, "value words")`, the words read as
    /// redis.conf reads a line (split at spaces; `"…"` keeps one word whole, see [`conf_quote`]):
    /// e.g. `("client-output-buffer-limit", "pubsub 1mb 0 0")`, `("dir", "\"/tmp/a b\"")`.
    pub directives: Vec<(String, String)>,
}

/// `s` as one redis.conf word, whatever it holds (spaces, quotes, backslashes): for a
/// [`ServerOpts::directives`] value such as a directory path.
#[must_use]
pub fn conf_quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The words of directive `name`'s `value`, split as redis.conf splits a line.
fn words(name: &str, value: &str) -> Vec<String> {
    let words = cache_server::frame::split_args(value.as_bytes())
        .unwrap_or_else(|| panic!("directive {name} {value}: unbalanced quotes"));
    words.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect()
}

impl ServerOpts {
    /// Redis-style command-line flags for these options (`--requirepass x --maxmemory n ...`), one
    /// argument per word; both `redis-server` and our binary take them.
    #[must_use]
    pub fn flags(&self) -> Vec<String> {
        let mut f = Vec::new();
        if let Some(p) = &self.requirepass {
            f.extend(["--requirepass".to_owned(), p.clone()]);
        }
        if let Some(m) = self.maxmemory {
            f.extend(["--maxmemory".to_owned(), m.to_string()]);
        }
        if let Some(p) = &self.maxmemory_policy {
            f.extend(["--maxmemory-policy".to_owned(), p.clone()]);
        }
        for (name, value) in &self.directives {
            f.push(format!("--{name}"));
            f.extend(words(name, value));
        }
        f
    }

    /// The `cache_server::Config` for these options, listening on `port`.
    ///
    /// # Panics
    ///
    /// On a policy name or directive the server does not know.
    #[must_use]
    pub fn config(&self, port: u16) -> cache_server::Config {
        let mut c = cache_server::Config::default();
        c.bind = "127.0.0.1".to_owned();
        c.port = port;
        c.requirepass.clone_from(&self.requirepass);
        if let Some(m) = self.maxmemory {
            c.maxmemory = m;
        }
        if let Some(p) = &self.maxmemory_policy {
            c.maxmemory_policy =
                cache_server::MaxMemoryPolicy::parse(p).unwrap_or_else(|| panic!("unknown maxmemory-policy {p}"));
        }
        for (name, value) in &self.directives {
            let words = words(name, value);
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            c.set(name, &words).unwrap_or_else(|e| panic!("directive {name} {value}: {e}"));
        }
        c
    }
}

/// Our server running in this process; shut down on drop.
#[derive(Debug)]
pub struct OurServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl OurServer {
    /// Starts `cache_server::run` on a fresh 127.0.0.1:0 listener.
    ///
    /// # Panics
    ///
    /// When the runtime cannot be built or the server does not report its address in time.
    #[must_use]
    pub fn start(opts: &ServerOpts) -> Self {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let opts = opts.clone();
        let thread = std::thread::Builder::new()
            .name("cache-server-under-test".to_owned())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("build the server's runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                    let addr = listener.local_addr().expect("local_addr");
                    let _ = addr_tx.send(addr);
                    let config = opts.config(addr.port());
                    let stop = async move {
                        let _ = shutdown_rx.await;
                    };
                    if let Err(e) = cache_server::run(config, listener, stop).await {
                        eprintln!("cache-server (in-process) stopped with an error: {e}");
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(5));
                let _ = done_tx.send(());
            })
            .expect("spawn the server thread");
        let addr = addr_rx.recv_timeout(START_TIMEOUT).expect("the in-process server did not start");
        Self { addr, shutdown: Some(shutdown), done, thread: Some(thread) }
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for OurServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Bounded: a server that ignores shutdown is reported, and its thread left behind, rather
        // than hanging the test binary.
        if self.done.recv_timeout(Duration::from_secs(15)).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        } else if !std::thread::panicking() {
            eprintln!("WARNING: the in-process cache-server did not stop within 15 s of shutdown");
        }
    }
}

/// Our server as a child process; killed on drop.
#[derive(Debug)]
pub struct OurProcess {
    child: Child,
    addr: SocketAddr,
}

/// The directory holding the binaries of the running test's profile (`target/debug`).
fn bin_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    Some(if dir.ends_with("deps") { dir.parent()?.to_path_buf() } else { dir.to_path_buf() })
}

fn mtime(p: &Path) -> Option<SystemTime> {
    p.metadata().and_then(|m| m.modified()).ok()
}

/// The newest `libcache_server-*.rlib` in `deps`: the library the tests were linked against.
fn newest_server_lib(dir: &Path) -> Option<SystemTime> {
    std::fs::read_dir(dir.join("deps"))
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("libcache_server-") && n.ends_with(".rlib")
        })
        .filter_map(|e| mtime(&e.path()))
        .max()
}

/// Which executable to run as our server: `CACHE_SERVER_BIN` if set; else the real `cache-server`
/// binary next to the tests if it is at least as new as the library the tests were built against
/// (`cargo build -p cache-server` makes it); else this crate's `cache-tests-server`, a thin `main`
/// over the same `cache_server::run` that cargo always builds fresh with the tests.
#[must_use]
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CACHE_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let dir = bin_dir().expect("locate the target directory");
    let real = dir.join("cache-server");
    let fresh = mtime(&real).zip(newest_server_lib(&dir)).is_some_and(|(bin, lib)| bin >= lib);
    if fresh {
        return real;
    }
    let wrapper = dir.join("cache-tests-server");
    eprintln!(
        "note: using {} (the real cache-server binary is missing or older than its library; \
         `cargo build -p cache-server` to test it)",
        wrapper.display()
    );
    wrapper
}

/// The real `cache-server` binary next to the tests (for what the test wrapper does not do: config
/// files, logging), or `None` (test skipped; a failure under CI) when it was not built.
///
/// # Panics
///
/// When it is missing under `CI=true`.
#[must_use]
pub fn real_server_binary() -> Option<PathBuf> {
    let real = server_binary().with_file_name("cache-server");
    let why = format!("{} missing (`cargo build -p cache-server`)", real.display());
    crate::peer::found_or_skip(real.exists().then_some(real), || why)
}

impl OurProcess {
    /// Spawns [`server_binary`] on a free port with `opts` as flags.
    ///
    /// # Panics
    ///
    /// When the binary cannot be spawned or does not listen after a few attempts.
    #[must_use]
    pub fn start(opts: &ServerOpts) -> Self {
        let bin = server_binary();
        for _attempt in 0..3 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(opts.flags())
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            let addr = loopback(port);
            if answers_as(addr, child.id(), opts.requirepass.as_deref(), || matches!(child.try_wait(), Ok(None))) {
                return Self { child, addr };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("{} did not start listening after 3 attempts", bin.display());
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for OurProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
