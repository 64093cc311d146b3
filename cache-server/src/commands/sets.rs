//! Set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SRANDMEMBER SPOP SMOVE SINTER SINTERCARD SUNION SDIFF (and STORE forms) SSCAN.

use super::CommandSpec;

/// The set family's table rows.
pub const COMMANDS: &[CommandSpec] = &[];
