//! A thin `main` over `cache_server::run` for tests that need our server as its own process, used
//! when the real `cache-server` binary has not been built (see `ours::server_binary`). It reads
//! `--directive value...` groups as the real binary does (a directive takes every argument up to
//! the next `--`, each argument one value as given, spaces included) and applies each with
//! `Config::set`; config files and the rest of the real binary's handling are not its job.
//! It does use the real binary's allocator (jemalloc), which RSS tests measure.

use anyhow::{Context, bail};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// `--name value...` groups, in order; every value is one argument, never split or joined.
fn directives(argv: impl IntoIterator<Item = String>) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for word in argv {
        match word.strip_prefix("--") {
            Some("") => bail!("empty directive name `--`"),
            Some(name) => out.push((name.to_owned(), Vec::new())),
            None => out.last_mut().with_context(|| format!("stray argument {word}"))?.1.push(word),
        }
    }
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    cache_server::alloc::install(cache_server::alloc::Allocator::Jemalloc);
    let mut config = cache_server::Config::default();
    config.bind = "127.0.0.1".to_owned();
    for (name, values) in directives(std::env::args().skip(1))? {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        config.set(&name, &values).map_err(|e| anyhow::anyhow!("--{name} {values:?}: {e}"))?;
    }
    let (bind, port, backlog) = (config.bind.clone(), config.port, config.tcp_backlog);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let served = rt.block_on(async move {
        let listeners = cache_server::listener::bind_all(&bind, port, backlog)?;
        cache_server::run_on(config, listeners, cache_server::shutdown::signal())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    });
    // As the real binary: SIGTERM / SIGINT stop it, and a long command cannot hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}
