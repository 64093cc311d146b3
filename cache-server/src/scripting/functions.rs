//! FUNCTION libraries: the shared registry (LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE, STATS) and
//! the loading of a library into a thread's VM for FCALL.
//!
//! Owns library metadata and code; knows nothing of commands or locking. A library is validated
//! by running its code once in the calling thread's VM (the functions it registers and their
//! flags become its metadata); every other thread loads the code into its own VM on its first
//! FCALL of that library version.
//!
//! ```text
//!   load(code) ── shebang "#!lua name=lib" ── run in this VM's load env ──► {fname → flags, desc}
//!        │ conflicts checked under the write lock (library exists, function owned elsewhere)
//!        ▼
//!   Registry { libs: name → Arc<Library{code, version, functions}>, owner: fname → lib }
//!        │ get(fname) on FCALL
//!        ▼
//!   Vm.libs[lib] (version) ── reload when the registry's version differs ──► callback Function
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mlua::{Function, Table, Value};
use parking_lot::RwLock;

use super::cache::ScriptFlags;
use super::run::error_text;
use super::vm::{LOAD_TIMEOUT, LoadedLib, Vm, with_vm};
use crate::glob;
use crate::persistence::rdb::{self, Options, Reader};
use crate::reply::Reply;

/// `RDB_OPCODE_FUNCTION2`: a library's code follows as an RDB string.
const OPCODE_FUNCTION2: u8 = 245;
/// `RDB_OPCODE_FUNCTION_PRE_GA`: the 7.0 release candidates' format, refused as Redis does.
const OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// One registered function's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Its name (FCALL's first argument).
    pub name: String,
    /// `description` of the table form of `redis.register_function`.
    pub description: Option<String>,
    /// Its flags (`no-writes`, ...). `shebang` is always true: functions never run in the EVAL
    /// compatibility mode.
    pub flags: ScriptFlags,
}

/// One library.
#[derive(Debug)]
pub struct Library {
    /// From `#!lua name=<name>`.
    pub name: String,
    /// The code as loaded (shebang included), returned by LIST WITHCODE and DUMP.
    pub code: Arc<[u8]>,
    /// Bumped on every load, so VMs reload a replaced library.
    pub version: u64,
    /// Its functions by name.
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// What FUNCTION RESTORE does with existing libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RestorePolicy {
    /// `APPEND` (the default): fail if a library or function name already exists.
    #[default]
    Append,
    /// `REPLACE`: restored libraries replace existing ones of the same name.
    Replace,
    /// `FLUSH`: delete every library first.
    Flush,
}

#[derive(Debug, Default, Clone)]
struct Registry {
    libs: BTreeMap<String, Arc<Library>>,
    /// Function name → the library that owns it.
    owner: HashMap<String, String>,
}

impl Registry {
    /// `restoring`: RESTORE words the conflict without quotes (Redis 7.0.15).
    fn insert(&mut self, lib: Library, replace: bool, restoring: bool) -> Result<(), String> {
        if self.libs.contains_key(&lib.name) && !replace {
            return Err(if restoring {
                format!("ERR Library {} already exists", lib.name)
            } else {
                format!("ERR Library '{}' already exists", lib.name)
            });
        }
        for f in lib.functions.keys() {
            if let Some(o) = self.owner.get(f) {
                if *o != lib.name {
                    return Err(format!("ERR Function {f} already exists"));
                }
            }
        }
        self.remove(&lib.name);
        for f in lib.functions.keys() {
            self.owner.insert(f.clone(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), Arc::new(lib));
        Ok(())
    }

    fn remove(&mut self, name: &str) -> bool {
        match self.libs.remove(name) {
            Some(old) => {
                for f in old.functions.keys() {
                    self.owner.remove(f);
                }
                true
            }
            None => false,
        }
    }
}

/// The shared function registry (`Send + Sync`).
#[derive(Debug, Default)]
pub struct Functions {
    inner: RwLock<Registry>,
    versions: std::sync::atomic::AtomicU64,
}

/// Parses `#!lua name=<lib>` (Redis 7.0.15's error texts).
fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code.iter().position(|&b| b == b'\n').ok_or_else(|| "ERR Invalid library metadata".to_string())?;
    let mut parts = code[..end].split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = &parts.next().unwrap_or(b"#!")[2..];
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!("ERR Engine '{}' not found", String::from_utf8_lossy(engine)));
    }
    let mut name = None;
    for p in parts {
        match p.strip_prefix(b"name=") {
            Some(_) if name.is_some() => {
                return Err("ERR Invalid metadata value, name argument was given multiple times".into());
            }
            Some(n) => name = Some(String::from_utf8_lossy(n).into_owned()),
            None => return Err(format!("ERR Invalid metadata value given: {}", String::from_utf8_lossy(p))),
        }
    }
    let name = name.ok_or_else(|| "ERR Library name was not given".to_string())?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one \
                    character long"
            .into());
    }
    Ok(name)
}

/// A library loaded into one VM: its callbacks, and its functions' metadata.
type Loaded = (HashMap<String, Function>, BTreeMap<String, FunctionInfo>);

/// Runs a library's code in `vm`'s load environment; returns its callbacks and metadata.
fn load_into(vm: &Vm, code: &[u8]) -> Result<Loaded, String> {
    let chunk = vm.compile(code, "@user_function").map_err(|m| format!("ERR Error compiling function: {m}"))?;
    let loader: Function = vm.cur.raw_get("load_lib").map_err(|e| format!("ERR {e}"))?;
    let saved = std::mem::take(&mut *vm.hook.borrow_mut());
    vm.hook.borrow_mut().deadline = Some(std::time::Instant::now() + LOAD_TIMEOUT);
    let result = loader.call::<(bool, Value)>(chunk);
    *vm.hook.borrow_mut() = saved;
    let (ok, v) = result.map_err(|e| format!("ERR {e}"))?;
    if !ok {
        let text = match &v {
            Value::Table(t) => match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.to_string_lossy(),
                _ => error_text(&v, "library"),
            },
            _ => error_text(&v, "library"),
        };
        return Err(format!("ERR Error registering functions: {text}"));
    }
    let Value::Table(regs) = v else { return Err("ERR No functions registered".into()) };
    let mut callbacks = HashMap::new();
    let mut infos = BTreeMap::new();
    for pair in regs.pairs::<String, Table>() {
        let (name, t) = pair.map_err(|e| format!("ERR {e}"))?;
        let cb: Function = t.raw_get("callback").map_err(|e| format!("ERR {e}"))?;
        let description: Option<String> = t.raw_get("description").unwrap_or(None);
        let mut flags = ScriptFlags { shebang: true, ..ScriptFlags::default() };
        let names: Vec<String> = t.raw_get("flags").unwrap_or_default();
        for f in names {
            flags.set(f.as_bytes());
        }
        infos.insert(name.clone(), FunctionInfo { name: name.clone(), description, flags });
        callbacks.insert(name, cb);
    }
    if infos.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok((callbacks, infos))
}

/// The callback of `name` in `lib`, loading the library into this VM if its version changed.
pub(crate) fn loaded_function(vm: &mut Vm, lib: &Library, name: &str) -> Result<Function, String> {
    let fresh = vm.libs.get(&lib.name).is_some_and(|l| l.version == lib.version);
    if !fresh {
        let (functions, _) = load_into(vm, &lib.code)?;
        vm.libs.insert(lib.name.clone(), LoadedLib { version: lib.version, functions });
    }
    vm.libs
        .get(&lib.name)
        .and_then(|l| l.functions.get(name).cloned())
        .ok_or_else(|| "ERR Function not found".to_string())
}

impl Functions {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn build(&self, code: &[u8]) -> Result<Library, String> {
        let name = library_name(code)?;
        let version = self.versions.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let (callbacks, functions) = with_vm(|vm| {
            let (callbacks, infos) = load_into(vm, code)?;
            Ok::<_, String>((callbacks, infos))
        })??;
        let lib = Library { name, code: code.into(), version, functions };
        with_vm(|vm| vm.libs.insert(lib.name.clone(), LoadedLib { version, functions: callbacks }))?;
        Ok(lib)
    }

    /// `FUNCTION LOAD [REPLACE]`: returns the library name.
    ///
    /// # Errors
    /// Redis 7.0.15's texts, e.g. `ERR Library 'lib1' already exists`, `ERR Function f1 already
    /// exists`, `ERR Missing library metadata`, `ERR No functions registered`, `ERR Error compiling
    /// function: user_function:2: ...`, `ERR Error registering functions: ...`.
    pub fn load(&self, code: &[u8], replace: bool) -> Result<String, String> {
        let lib = self.build(code)?;
        let name = lib.name.clone();
        self.inner.write().insert(lib, replace, false)?;
        Ok(name)
    }

    /// FUNCTION DELETE.
    ///
    /// # Errors
    /// `ERR Library not found`.
    pub fn delete(&self, name: &str) -> Result<(), String> {
        if self.inner.write().remove(name) { Ok(()) } else { Err("ERR Library not found".into()) }
    }

    /// FUNCTION FLUSH.
    pub fn flush(&self) {
        *self.inner.write() = Registry::default();
    }

    /// The library owning function `name` and the function's metadata (FCALL, FCALL_RO: the
    /// command layer refuses FCALL_RO of a function without `no-writes` with `ERR Can not execute
    /// a script with write flag using *_ro command.`).
    pub fn get(&self, name: &str) -> Option<(Arc<Library>, FunctionInfo)> {
        let g = self.inner.read();
        let lib = g.libs.get(g.owner.get(name)?)?.clone();
        let info = lib.functions.get(name)?.clone();
        Some((lib, info))
    }

    /// Number of libraries and of functions (FUNCTION STATS).
    pub fn counts(&self) -> (usize, usize) {
        let g = self.inner.read();
        (g.libs.len(), g.owner.len())
    }

    /// Bytes of library code held (INFO's `used_memory_functions`), with the same per-entry
    /// overhead as a cached script.
    pub fn memory(&self) -> usize {
        let g = self.inner.read();
        g.libs.values().map(|l| l.code.len() + super::SCRIPT_OVERHEAD).sum()
    }

    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`, libraries in name order.
    pub fn list(&self, pattern: Option<&[u8]>, with_code: bool, out: &mut Reply) {
        let g = self.inner.read();
        let libs: Vec<_> =
            g.libs.values().filter(|l| pattern.is_none_or(|p| glob::matches(p, l.name.as_bytes(), false))).collect();
        out.array(libs.len());
        for l in libs {
            out.map(if with_code { 4 } else { 3 });
            out.bulk(b"library_name");
            out.bulk(l.name.as_bytes());
            out.bulk(b"engine");
            out.bulk(b"LUA");
            out.bulk(b"functions");
            out.array(l.functions.len());
            for f in l.functions.values() {
                out.map(3);
                out.bulk(b"name");
                out.bulk(f.name.as_bytes());
                out.bulk(b"description");
                match &f.description {
                    Some(d) => out.bulk(d.as_bytes()),
                    None => out.null(),
                }
                out.bulk(b"flags");
                let names = f.flags.names();
                out.set(names.len());
                for n in names {
                    out.simple(n);
                }
            }
            if with_code {
                out.bulk(b"library_code");
                out.bulk(&l.code);
            }
        }
    }

    /// FUNCTION STATS; `running` is the running function's name, its command line and its
    /// duration in milliseconds, which the command layer knows.
    pub fn stats(&self, running: Option<(&str, &[bytes::Bytes], u64)>, out: &mut Reply) {
        let (libs, funcs) = self.counts();
        out.map(2);
        out.bulk(b"running_script");
        match running {
            None => out.null(),
            Some((name, cmd, ms)) => {
                out.map(3);
                out.bulk(b"name");
                out.bulk(name.as_bytes());
                out.bulk(b"command");
                out.bulks(cmd.iter());
                out.bulk(b"duration_ms");
                out.int(ms as i64);
            }
        }
        out.bulk(b"engines");
        out.map(1);
        out.bulk(b"LUA");
        out.map(2);
        out.bulk(b"libraries_count");
        out.int(libs as i64);
        out.bulk(b"functions_count");
        out.int(funcs as i64);
    }

    /// FUNCTION DUMP: Redis's payload (an RDB `FUNCTION2` record per library, RDB version 10,
    /// CRC-64, code LZF-compressed as Redis does). Libraries are in name order.
    pub fn dump(&self) -> Vec<u8> {
        let g = self.inner.read();
        let mut body = Vec::new();
        for l in g.libs.values() {
            body.push(OPCODE_FUNCTION2);
            rdb::io::put_string(&mut body, &l.code, Options { compress: true });
        }
        rdb::seal(body)
    }

    /// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]`. Nothing changes on error.
    ///
    /// # Errors
    /// `ERR DUMP payload version or checksum are wrong`, `ERR given type is not a function`,
    /// `ERR Pre-GA function format not supported`, or a library's load error.
    pub fn restore(&self, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
        let body =
            rdb::open_payload(payload).map_err(|_| "ERR DUMP payload version or checksum are wrong".to_string())?;
        let mut r = Reader::new(body);
        let mut libs = Vec::new();
        while r.remaining() > 0 {
            match r.byte().map_err(|_| "ERR payload is not a valid function dump".to_string())? {
                OPCODE_FUNCTION2 => {
                    let code = r.string().map_err(|_| "ERR payload is not a valid function dump".to_string())?;
                    libs.push(self.build(&code)?);
                }
                OPCODE_FUNCTION_PRE_GA => return Err("ERR Pre-GA function format not supported".into()),
                _ => return Err("ERR given type is not a function".into()),
            }
        }
        let mut g = self.inner.write();
        let mut next = match policy {
            RestorePolicy::Flush => Registry::default(),
            _ => g.clone(),
        };
        for lib in libs {
            next.insert(lib, policy == RestorePolicy::Replace, true)?;
        }
        *g = next;
        Ok(())
    }
}
