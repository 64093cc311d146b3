//! The Lua libraries Redis loads into its scripting VM, written in Rust: `cjson`, `bit`,
//! `struct`, `cmsgpack`. Each file installs one table of functions into the VM's real globals
//! (the sandbox then makes them read-only). Owns no state.

use mlua::{Lua, Table};

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub(crate) mod struct_;

/// Installs every library as a global table.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.raw_set("bit", bit::table(lua)?)?;
    globals.raw_set("cjson", cjson::table(lua)?)?;
    globals.raw_set("struct", struct_::table(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::table(lua)?)?;
    Ok(())
}
