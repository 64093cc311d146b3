//! Finding the peer programs the tests compare against (`redis-server`, `redis-cli`, `memcached`).
//!
//! A missing peer skips the test that needs it with a printed reason on a developer's machine, and
//! fails it in CI (`CI=true`): CI installs the peers (see the crate docs), so a missing one there is a
//! broken setup, never a silent pass.

use std::path::{Path, PathBuf};

/// True when running under CI (`CI=true` or `CI=1`).
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Looks `name` up on `PATH` (or takes it as a path if it contains a `/`).
#[must_use]
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of peer program `name`, or `None` (after printing why) when it is not installed.
///
/// # Panics
///
/// When the program is missing and [`in_ci`] is true: CI must never skip silently.
#[must_use]
pub fn require_peer(name: &str) -> Option<PathBuf> {
    if let Some(p) = which(name) {
        return Some(p);
    }
    let reason = format!(
        "peer program `{name}` not found on PATH; install it with \
         `apt-get install -y redis-server redis-tools memcached`"
    );
    assert!(!in_ci(), "CI=true and {reason}");
    eprintln!("SKIPPED: {reason}");
    None
}
