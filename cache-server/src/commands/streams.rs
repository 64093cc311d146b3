//! Stream commands without consumer groups: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XREAD XSETID.
//! Consumer groups live in [`groups`], XINFO in [`info`]; the type in [`crate::types::stream`].

pub mod groups;
pub mod ids;
pub mod info;

use super::CommandSpec;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
