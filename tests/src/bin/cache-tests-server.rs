//! A thin `main` over `cache_server::run` for tests that need our server as its own process, used
//! when the real `cache-server` binary has not been built (see `ours::server_binary`). It takes the
//! few Redis-style flags the tests pass (`--bind --port --requirepass --maxmemory
//! --maxmemory-policy`) and nothing else; the real binary's configuration handling is not its job.

use anyhow::{Context, bail};
use cache_tests::ServerOpts;

fn main() -> anyhow::Result<()> {
    let mut opts = ServerOpts::default();
    let mut bind = "127.0.0.1".to_owned();
    let mut port = 6379u16;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bind" => bind = value,
            "--port" => port = value.parse().context("--port")?,
            "--requirepass" => opts.requirepass = Some(value),
            "--maxmemory" => opts.maxmemory = Some(value.parse().context("--maxmemory")?),
            "--maxmemory-policy" => opts.maxmemory_policy = Some(value),
            _ => bail!("unknown flag {flag}"),
        }
    }
    let config = opts.config(port);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((bind.as_str(), port)).await?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        cache_server::run(config, listener, shutdown).await.map_err(|e| anyhow::anyhow!("{e}"))
    })
}
