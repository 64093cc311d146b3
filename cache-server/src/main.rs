//! The `cache-server` binary: parses flags and an optional redis.conf-style file into a
//! [`cache_server::Config`], sets up `tracing`, builds the tokio runtime, binds, and runs the server
//! until SIGTERM / SIGINT / SHUTDOWN. All serving logic lives in the library.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, bail};
use cache_server::Config;
use clap::Parser;

/// A Redis 7 compatible cache server over cache-core.
///
/// Flags use Redis directive names and override the config file.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// redis.conf-style file (bind, port, requirepass, maxmemory, maxmemory-policy, timeout, ...).
    config_file: Option<String>,
    /// Address to listen on.
    #[arg(long)]
    bind: Option<String>,
    /// TCP port.
    #[arg(long)]
    port: Option<String>,
    /// Password for the default user.
    #[arg(long)]
    requirepass: Option<String>,
    /// Memory budget, e.g. 100mb, 2gb (0 = unlimited).
    #[arg(long)]
    maxmemory: Option<String>,
    /// allkeys-lfu | allkeys-lru | volatile-lfu | volatile-lru | volatile-ttl | noeviction.
    #[arg(long = "maxmemory-policy")]
    maxmemory_policy: Option<String>,
    /// Number of databases.
    #[arg(long)]
    databases: Option<String>,
    /// Close idle clients after this many seconds (0 = never).
    #[arg(long)]
    timeout: Option<String>,
    /// TCP keepalive seconds.
    #[arg(long = "tcp-keepalive")]
    tcp_keepalive: Option<String>,
    /// Maximum simultaneous clients.
    #[arg(long)]
    maxclients: Option<String>,
    /// debug | verbose | notice | warning.
    #[arg(long)]
    loglevel: Option<String>,
    /// yes | no.
    #[arg(long = "protected-mode")]
    protected_mode: Option<String>,
    /// Largest bulk string accepted (default 512mb).
    #[arg(long = "proto-max-bulk-len")]
    proto_max_bulk_len: Option<String>,
    /// Largest query buffer per client (default 1gb).
    #[arg(long = "client-query-buffer-limit")]
    client_query_buffer_limit: Option<String>,
    /// Longest inline request (default 64kb).
    #[arg(long = "inline-max-size")]
    inline_max_size: Option<String>,
    /// Worker threads (0 = one per CPU).
    #[arg(long)]
    threads: Option<String>,
    /// Also serve the Memcached text and meta protocols on this port (0 = off; 11211 is usual).
    #[arg(long = "memcached-port")]
    memcached_port: Option<String>,
    /// Largest Memcached item (default 1mb).
    #[arg(long = "memcached-max-item-size")]
    memcached_max_item_size: Option<String>,
}

fn build_config(args: &Args) -> Result<Config> {
    let mut config = Config::default();
    if let Some(path) = &args.config_file {
        config.apply_file(path).map_err(anyhow::Error::msg)?;
    }
    let flags = [
        ("bind", &args.bind),
        ("port", &args.port),
        ("requirepass", &args.requirepass),
        ("maxmemory", &args.maxmemory),
        ("maxmemory-policy", &args.maxmemory_policy),
        ("databases", &args.databases),
        ("timeout", &args.timeout),
        ("tcp-keepalive", &args.tcp_keepalive),
        ("maxclients", &args.maxclients),
        ("loglevel", &args.loglevel),
        ("protected-mode", &args.protected_mode),
        ("proto-max-bulk-len", &args.proto_max_bulk_len),
        ("client-query-buffer-limit", &args.client_query_buffer_limit),
        ("inline-max-size", &args.inline_max_size),
        ("threads", &args.threads),
        ("memcached-port", &args.memcached_port),
        ("memcached-max-item-size", &args.memcached_max_item_size),
    ];
    for (name, value) in flags {
        if let Some(v) = value {
            config.set(name, &[v.as_str()]).map_err(|e| anyhow::anyhow!("--{name} {v}: {e}"))?;
        }
    }
    Ok(config)
}

fn main() -> std::process::ExitCode {
    match serve() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cache-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve() -> Result<()> {
    let args = Args::parse();
    let config = build_config(&args)?;
    let level = match config.loglevel.as_str() {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // Colour only for a terminal: log files and CI output stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();

    let threads =
        if config.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { config.threads };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?;
    runtime.block_on(async move {
        let host = config.bind.split_whitespace().next().unwrap_or("127.0.0.1").trim_start_matches('-').to_string();
        let addr = format!("{host}:{}", config.port);
        if config.port == 0 && std::env::var_os("CACHE_SERVER_ALLOW_PORT0").is_none() {
            bail!("port 0 is not supported by the binary; pass --port N");
        }
        let listener =
            tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            redis_compat = cache_server::REDIS_VERSION,
            address = %listener.local_addr()?,
            maxmemory = config.maxmemory,
            policy = %config.maxmemory_policy,
            threads,
            "cache-server ready to accept connections"
        );
        cache_server::run(config, listener, cache_server::shutdown::signal()).await?;
        Ok(())
    })
}
