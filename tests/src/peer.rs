//! Finding the peer programs the tests compare against (`redis-server`, `redis-cli`, `memcached`),
//! and the one way a test skips ([`found_or_skip`], [`skip_unless`]).
//!
//! A missing peer (or anything else a test needs: the built binary, the stock redis.conf, a
//! feature of the server under test) skips the test that needs it with a printed reason on a
//! developer's machine, and fails it in CI (`CI=true`): CI installs the peers (see the crate docs)
//! and builds everything, so a missing one there is a broken setup, never a silent pass.

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
    found_or_skip(which(name), || {
        format!(
            "peer program `{name}` not found on PATH; install it with \
             `apt-get install -y redis-server redis-tools memcached`"
        )
    })
}

/// `found`, or `None` after printing why the test (or the part of it that needs the missing
/// thing) is skipped: every skip of this crate goes through here or [`skip_unless`], so none
/// passes silently in CI.
///
/// # Panics
///
/// When `found` is `None` and [`in_ci`] is true: CI installs and builds everything the tests
/// need, so a missing piece there is a broken setup, never a pass.
#[must_use]
pub fn found_or_skip<T>(found: Option<T>, reason: impl FnOnce() -> String) -> Option<T> {
    if found.is_none() {
        let reason = reason();
        assert!(!in_ci(), "CI=true and {reason}");
        eprintln!("SKIPPED: {reason}");
    }
    found
}

/// `present`, after printing why the test (or part of it) is skipped when it is false: as
/// [`found_or_skip`].
///
/// # Panics
///
/// When `present` is false and [`in_ci`] is true.
#[must_use]
pub fn skip_unless(present: bool, reason: impl FnOnce() -> String) -> bool {
    found_or_skip(present.then_some(()), reason).is_some()
}
