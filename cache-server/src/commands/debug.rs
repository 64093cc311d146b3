//! DEBUG (the subset clients and test suites use: SLEEP, OBJECT, …) and LOLWUT.

use super::CommandSpec;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
