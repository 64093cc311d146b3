//! XINFO (STREAM [FULL], GROUPS, CONSUMERS): what a stream and its groups look like.

use crate::commands::CommandSpec;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
