//! A thin `main` over `cache_server::run` for tests that need our server as its own process, used
//! when the real `cache-server` binary has not been built (see `ours::server_binary`). It takes the
//! few Redis-style flags the tests pass (`--bind --port --requirepass --maxmemory
//! --maxmemory-policy`) and nothing else; the real binary's configuration handling is not its job.
//! It does use the real binary's allocator (jemalloc), which RSS tests measure.

use anyhow::Context;
use cache_tests::ServerOpts;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    cache_server::alloc::install(cache_server::alloc::Allocator::Jemalloc);
    let mut opts = ServerOpts::default();
    for word in std::env::args().skip(1) {
        match word.strip_prefix("--") {
            Some(name) => opts.directives.push((name.to_owned(), String::new())),
            None => {
                let (_, value) = opts.directives.last_mut().with_context(|| format!("stray argument {word}"))?;
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(&word);
            }
        }
    }
    let port: u16 = opts.directives.iter().rev().find(|(n, _)| n == "port").map_or(Ok(6379), |(_, v)| v.parse())?;
    let bind = opts.directives.iter().rev().find(|(n, _)| n == "bind").map_or("127.0.0.1", |(_, v)| v.as_str());
    let bind = bind.to_owned();
    let config = opts.config(port);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let served = rt.block_on(async move {
        let listeners = cache_server::listener::bind_all(&bind, port, 511)?;
        cache_server::run_on(config, listeners, cache_server::shutdown::signal())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    });
    // As the real binary: SIGTERM / SIGINT stop it, and a long command cannot hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}
