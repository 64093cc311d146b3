//! DUMP and RESTORE: one key's value in Redis's serialization format (RDB version 10, CRC64),\n//! through [`crate::persistence::rdb`].

use super::CommandSpec;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
