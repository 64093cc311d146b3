//! Transcript runs of other languages' client scripts (`tests/clients/`): each script prints one
//! line per step (a command and what the library returned, or the error it raised), and a test
//! compares the lines printed against two servers. This module owns finding the scripts, checking
//! that their interpreter and libraries are installed (skipping with a reason, failing under CI),
//! running one under a wall-time bound, and the line-by-line comparison. It knows nothing of what
//! the scripts do.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peer::skip_unless;

/// Wall-time bound for one script run, in seconds (passed to `timeout`).
pub const CHILD_TIMEOUT_SECS: &str = "120";

/// `tests/clients/`, where the scripts and their dependency lists live.
#[must_use]
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// `true` when `probe` succeeds; otherwise prints why the test skips (or panics under CI).
///
/// # Panics
///
/// When `probe` fails and [`in_ci`](crate::peer::in_ci) is true.
pub fn require(what: &str, install: &str, probe: &mut Command) -> bool {
    let present = probe.output().is_ok_and(|o| o.status.success());
    skip_unless(present, || format!("{what} is not available; install it with `{install}`"))
}

/// Runs `program script args… HOST PORT` and returns its transcript lines.
///
/// # Panics
///
/// When the script cannot be spawned, exits non-zero (or is killed at the time bound), or prints
/// something that is not UTF-8.
#[must_use]
pub fn transcript(program: &str, script: &str, args: &[&str], addr: SocketAddr) -> Vec<String> {
    let out = Command::new("timeout")
        .arg(CHILD_TIMEOUT_SECS)
        .arg(program)
        .arg(clients_dir().join(script))
        .args(args)
        .args([addr.ip().to_string(), addr.port().to_string()])
        .current_dir(clients_dir())
        .output()
        .expect("spawn the client script under timeout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} {args:?} against {addr} failed ({}):\n{stderr}", out.status);
    String::from_utf8(out.stdout).expect("utf-8 transcript").lines().map(str::to_owned).collect()
}

/// The differing steps of two transcripts, as `ours:` / `reference:` pairs.
#[must_use]
pub fn differences(ours: &[String], reference: &[String]) -> Vec<String> {
    ours.iter()
        .zip(reference)
        .filter(|(o, r)| o != r)
        .map(|(o, r)| format!("  ours:      {o}\n  reference: {r}"))
        .collect()
}

/// Asserts equal transcripts, listing every differing step.
///
/// # Panics
///
/// When the reference has fewer than `min_steps` lines, or the transcripts differ.
pub fn assert_same(what: &str, ours: &[String], reference: &[String], min_steps: usize) {
    assert!(reference.len() >= min_steps, "{what}: the reference transcript is too short: {reference:#?}");
    let diffs = differences(ours, reference);
    assert!(
        diffs.is_empty() && ours.len() == reference.len(),
        "{what}: {} of {} steps differ (ours has {} lines):\n{}",
        diffs.len(),
        reference.len(),
        ours.len(),
        diffs.join("\n")
    );
}
