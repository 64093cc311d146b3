//! LATENCY (LATEST HISTORY RESET DOCTOR HISTOGRAM …): latency spikes above\n//! `latency-monitor-threshold`, per event.

use super::CommandSpec;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
