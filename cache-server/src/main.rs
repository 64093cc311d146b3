//! The `cache-server` binary: parses flags and an optional redis.conf-style file into a
//! [`cache_server::Config`], sets up `tracing`, builds the tokio runtime, binds, and runs the server
//! until SIGTERM / SIGINT / SHUTDOWN. All serving logic lives in the library.
#![forbid(unsafe_code)]

use anyhow::{Result, bail};
use cache_server::Config;

/// jemalloc by default: it gives freed memory back to the OS (glibc's arenas keep it; figures in
/// BENCHMARKS.md, "Allocator") and reports its statistics in INFO memory.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
#[cfg(feature = "jemalloc")]
const ALLOCATOR: cache_server::alloc::Allocator = cache_server::alloc::Allocator::Jemalloc;

/// mimalloc, for comparison runs (`--no-default-features --features mimalloc`).
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
const ALLOCATOR: cache_server::alloc::Allocator = cache_server::alloc::Allocator::Mimalloc;

#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
const ALLOCATOR: cache_server::alloc::Allocator = cache_server::alloc::Allocator::Libc;

const USAGE: &str = "\
A Redis 7 compatible cache server over cache-core.

Usage: cache-server [/path/to/redis.conf] [--directive value [value ...]] ...

Every redis.conf directive the server knows is also a flag, and flags override the file:
  cache-server --port 7000 --maxmemory 2gb --maxmemory-policy allkeys-lru
  cache-server /etc/cache.conf --requirepass s3cret --memcached-port 11211
  cache-server --bind 127.0.0.1 ::1 --client-output-buffer-limit pubsub 32mb 8mb 60

Options:
  -h, --help     Print this help
  -v, --version  Print the version";

/// The command line, as Redis reads it: an optional config file, then `--directive value...`
/// groups (a directive takes every word up to the next `--`), each applied like a line of the file.
#[derive(Debug, Default, PartialEq)]
struct Args {
    config_file: Option<String>,
    directives: Vec<(String, Vec<String>)>,
}

enum Parsed {
    Run(Args),
    Help,
    Version,
}

fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<Parsed> {
    let mut args = Args::default();
    for word in argv {
        match word.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-v" | "--version" => return Ok(Parsed::Version),
            _ => {}
        }
        if let Some(name) = word.strip_prefix("--") {
            if name.is_empty() {
                bail!("empty directive name `--`");
            }
            args.directives.push((name.to_owned(), Vec::new()));
        } else if let Some((_, values)) = args.directives.last_mut() {
            values.push(word);
        } else if args.config_file.is_none() {
            args.config_file = Some(word);
        } else {
            bail!("unexpected argument `{word}` (directives are written --name value)");
        }
    }
    Ok(Parsed::Run(args))
}

fn build_config(args: &Args) -> Result<Config> {
    let mut config = Config::default();
    if let Some(path) = &args.config_file {
        config.apply_file(path).map_err(anyhow::Error::msg)?;
    }
    for (name, values) in &args.directives {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        config.set(name, &values).map_err(|e| anyhow::anyhow!("--{name} {}: {e}", values.join(" ")))?;
    }
    Ok(config)
}

fn main() -> std::process::ExitCode {
    match serve() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let text = format!("{e:#}");
            // A config file error is printed in Redis's shape ("*** FATAL CONFIG FILE ERROR ***").
            if text.starts_with('\n') {
                eprintln!("{text}")
            } else {
                eprintln!("cache-server: {text}")
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve() -> Result<()> {
    let args = match parse_args(std::env::args().skip(1))? {
        Parsed::Run(args) => args,
        Parsed::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Parsed::Version => {
            println!("cache-server {} (Redis {} compatible)", env!("CARGO_PKG_VERSION"), cache_server::REDIS_VERSION);
            return Ok(());
        }
    };
    cache_server::alloc::install(ALLOCATOR);
    let mut config = build_config(&args)?;
    let warnings = config.take_warnings();
    let level = cache_server::config::tracing_level(&config.loglevel);
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env().ok();
    let pinned = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| tracing_subscriber::EnvFilter::new(level));
    // Colour only for a terminal: log files and CI output stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // The filter is reloadable so that CONFIG SET loglevel takes effect at once, as in Redis
    // (unless RUST_LOG pinned it).
    let (filter, reload) = tracing_subscriber::reload::Layer::new(filter);
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let fmt = tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(std::io::stderr);
        tracing_subscriber::registry().with(filter).with(fmt).init();
    }
    if !pinned {
        cache_server::config::on_loglevel_change(Box::new(move |level| {
            let _ = reload.modify(|f| *f = tracing_subscriber::EnvFilter::new(level));
        }));
    }
    for w in warnings {
        tracing::warn!("{w}");
    }

    let threads =
        if config.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { config.threads };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    let served = runtime.block_on(async move {
        if config.port == 0 && std::env::var_os("CACHE_SERVER_ALLOW_PORT0").is_none() {
            bail!("port 0 is not supported by the binary; pass --port N");
        }
        let listeners = cache_server::listener::bind_all(&config.bind, config.port, config.tcp_backlog)?;
        let addresses: Vec<String> =
            listeners.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.to_string()).collect();
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            redis_compat = cache_server::REDIS_VERSION,
            addresses = %addresses.join(" "),
            maxmemory = config.maxmemory,
            policy = %config.maxmemory_policy,
            threads,
            "cache-server starting"
        );
        cache_server::run_on(config, listeners, cache_server::shutdown::signal()).await?;
        Ok(())
    });
    // A connection still inside a long command (off the workers, see `commands::offload`) must not
    // hold the process past the server's own drain timeout.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}

#[cfg(test)]
mod tests {
    use super::{Args, Parsed, parse_args};

    fn parse(line: &str) -> Args {
        match parse_args(line.split_whitespace().map(String::from)).unwrap() {
            Parsed::Run(a) => a,
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn directives_take_every_word_up_to_the_next_flag() {
        let a = parse("/etc/c.conf --port 7000 --bind 127.0.0.1 ::1 --client-output-buffer-limit pubsub 32mb 8mb 60");
        assert_eq!(a.config_file.as_deref(), Some("/etc/c.conf"));
        let d: Vec<(&str, usize)> = a.directives.iter().map(|(n, v)| (n.as_str(), v.len())).collect();
        assert_eq!(d, [("port", 1), ("bind", 2), ("client-output-buffer-limit", 4)]);
        assert!(parse_args(["a".to_owned(), "b".to_owned()]).is_err());
        assert!(matches!(parse_args(["--help".to_owned()]).unwrap(), Parsed::Help));
    }
}
