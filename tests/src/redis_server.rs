//! A real `redis-server` child process on 127.0.0.1, the reference the differential tests compare
//! our server with. It runs with persistence off and protected mode on, and is killed on drop.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::peer::require_peer;
use crate::port::{answers_as, free_port, loopback};

/// A running `redis-server`; killed (and reaped) on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    addr: SocketAddr,
}

impl RedisServer {
    /// Starts `redis-server` with `extra` arguments appended to the defaults, or returns `None` when
    /// the binary is missing (see [`require_peer`]).
    ///
    /// # Panics
    ///
    /// When the server does not come up on a few fresh ports in turn.
    #[must_use]
    pub fn start<S: AsRef<str>>(extra: &[S]) -> Option<Self> {
        let bin = require_peer("redis-server")?;
        for _attempt in 0..3 {
            let port = free_port();
            let mut args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
            args.extend(extra.iter().map(|s| s.as_ref().to_owned()));
            let mut child = Command::new(&bin)
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn redis-server");
            let addr = loopback(port);
            if answers_as(addr, child.id(), None, || matches!(child.try_wait(), Ok(None))) {
                return Some(Self { child, addr });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start listening after 3 attempts");
    }

    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id, for reading `/proc/<pid>/status`.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
