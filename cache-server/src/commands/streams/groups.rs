//! Consumer-group commands: XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER) XREADGROUP
//! XACK XPENDING XCLAIM XAUTOCLAIM.

use crate::commands::CommandSpec;

/// The family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
