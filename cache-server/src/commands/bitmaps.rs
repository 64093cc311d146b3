//! Bitmap commands over strings: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.

use super::CommandSpec;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
