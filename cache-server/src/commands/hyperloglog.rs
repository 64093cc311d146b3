//! HyperLogLog commands over strings in Redis's HLL layout: PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.

use super::CommandSpec;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
