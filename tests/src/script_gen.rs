//! The seeded generator of Lua scripts for the scripting differential tests.
//!
//! It owns *what scripts* are sent: small Lua programs whose `redis.call` / `redis.pcall` calls are
//! the commands of [`Generator`] (strings, hashes, keys, expiry, wrong arity, unknown commands)
//! written as Lua literals, with every argument that equals a declared key or argument replaced by
//! `KEYS[i]` / `ARGV[i]` (so keys the script did not declare are touched too), some integers passed
//! as Lua numbers, optional `redis.setresp(3)`, an optional `#!lua flags=no-writes` shebang, and
//! an assorted return value (call results, tables with nil and false holes, floats to truncate,
//! `{ok=}`/`{err=}`, RESP3 types, booleans, `redis.sha1hex`, `cjson` of arrays). Scripts go out as
//! EVAL, EVAL_RO, EVALSHA (of a script loaded just before, or unknown) and SCRIPT LOAD/EXISTS,
//! mixed with plain generated commands that read the state back.
//!
//! Replies that Redis does not define byte for byte are normalised inside the script: `KEYS`,
//! `HKEYS`, `HVALS` results are sorted, `HGETALL` becomes a sorted list of `field=value` strings
//! (from a RESP2 array or a RESP3 map), and a positive `TTL`/`PTTL`/`EXPIRETIME`/`PEXPIRETIME`
//! becomes 1. It must stay deterministic for a seed; it does not talk to servers.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::generator::{Command, Generator, KEYS};

/// The helpers every generated script starts with, on one line (so line numbers in error texts stay
/// simple): `srt` sorts a plain array, `hga` flattens an HGETALL reply (RESP2 array or RESP3 map)
/// into sorted `f=v` strings, `pos` turns a positive time into 1. A `{err=}` table passes through.
const PRELUDE: &str = "local function srt(t) if type(t) == 'table' and not t.err then table.sort(t) end return t end \
     local function hga(t) if type(t) ~= 'table' or t.err then return t end local o = {} \
     if t.map then for k, v in pairs(t.map) do o[#o + 1] = k .. '=' .. v end \
     else for i = 1, #t, 2 do o[#o + 1] = t[i] .. '=' .. t[i + 1] end end table.sort(o) return o end \
     local function pos(n) if type(n) == 'number' and n > 0 then return 1 end return n end\n";

/// Values the scripts get as `ARGV`, and use as arguments.
const ARGS: &[&str] = &["1", "42", "-7", "v1", "", "3.5", "abc", "9223372036854775807", "x y", "0"];

/// Writes `bytes` as a Lua string literal (`"..."` with `\ddd` escapes for anything unprintable).
#[must_use]
pub fn lua_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{b:03}")),
        }
    }
    s.push('"');
    s
}

/// Generates EVAL-family commands (and plain commands between them) for one seed.
#[derive(Debug)]
pub struct ScriptGenerator {
    rng: StdRng,
    commands: Generator,
    /// The body of the last script sent with SCRIPT LOAD, for a following EVALSHA.
    loaded: Option<String>,
    /// The sha of the last script sent with SCRIPT LOAD, for SCRIPT EXISTS.
    last_loaded: Option<String>,
}

/// One generated script call: its body, keys and arguments.
struct Script {
    body: String,
    keys: Vec<Vec<u8>>,
    argv: Vec<Vec<u8>>,
}

impl ScriptGenerator {
    /// A generator for `seed`; the embedded commands' absolute expiries are offsets from `base_unix`.
    #[must_use]
    pub fn new(seed: u64, base_unix: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ 0x5c41_9700),
            commands: Generator::new(seed, base_unix),
            loaded: None,
            last_loaded: None,
        }
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    /// The next command: mostly a script, sometimes a plain one.
    pub fn next_command(&mut self) -> Command {
        if self.chance(20) {
            return self.commands.next_command();
        }
        if let Some(body) = self.loaded.take() {
            let s = self.script_args();
            let sha = cache_server::scripting::sha1hex(body.as_bytes());
            let name = if self.chance(70) { "EVALSHA" } else { "EVALSHA_RO" };
            return Self::invocation(name, sha.into_bytes(), s.keys, s.argv);
        }
        let s = self.script();
        match self.rng.random_range(0..100) {
            0..=74 => Self::invocation("EVAL", s.body.into_bytes(), s.keys, s.argv),
            75..=79 => Self::invocation("EVAL_RO", s.body.into_bytes(), s.keys, s.argv),
            80..=89 => {
                self.last_loaded = Some(cache_server::scripting::sha1hex(s.body.as_bytes()));
                self.loaded = Some(s.body.clone());
                vec![b"SCRIPT".to_vec(), b"LOAD".to_vec(), s.body.into_bytes()]
            }
            90..=94 => {
                // The last script loaded (cached unless SCRIPT FLUSH came since), this one (not).
                let last = self.last_loaded.clone().unwrap_or_default();
                let sha = cache_server::scripting::sha1hex(s.body.as_bytes());
                vec![b"SCRIPT".to_vec(), b"EXISTS".to_vec(), last.into_bytes(), sha.into_bytes()]
            }
            _ => {
                // An unknown sha (NOSCRIPT), or SCRIPT FLUSH now and then.
                if self.chance(30) {
                    vec![b"SCRIPT".to_vec(), b"FLUSH".to_vec()]
                } else {
                    let sha = cache_server::scripting::sha1hex(format!("{}--unsent", s.body).as_bytes());
                    Self::invocation("EVALSHA", sha.into_bytes(), s.keys, s.argv)
                }
            }
        }
    }

    fn invocation(name: &str, body: Vec<u8>, keys: Vec<Vec<u8>>, argv: Vec<Vec<u8>>) -> Command {
        let mut c = vec![name.as_bytes().to_vec(), body, keys.len().to_string().into_bytes()];
        c.extend(keys);
        c.extend(argv);
        c
    }

    fn script_args(&mut self) -> Script {
        let nkeys = self.rng.random_range(0..4);
        let keys = (0..nkeys).map(|_| KEYS[self.rng.random_range(0..KEYS.len())].to_vec()).collect();
        let nargs = self.rng.random_range(0..4);
        let argv = (0..nargs).map(|_| ARGS[self.rng.random_range(0..ARGS.len())].as_bytes().to_vec()).collect();
        Script { body: String::new(), keys, argv }
    }

    /// A random script with its keys and arguments.
    fn script(&mut self) -> Script {
        let mut s = self.script_args();
        let mut body = String::new();
        if self.chance(5) {
            body.push_str("#!lua flags=no-writes\n");
        }
        body.push_str(PRELUDE);
        if self.chance(35) {
            body.push_str("redis.setresp(3)\n");
        }
        let calls = self.rng.random_range(1..5);
        for i in 0..calls {
            let c = self.commands.next_command();
            let call = self.call_expr(&c, &s.keys, &s.argv);
            body.push_str(&format!("local r{i} = {call}\n"));
        }
        let ret = self.return_expr(calls);
        body.push_str(&format!("return {ret}\n"));
        s.body = body;
        s
    }

    /// `redis.call(...)` or `redis.pcall(...)` of `c`, its result normalised where Redis leaves the
    /// order or the exact time open.
    fn call_expr(&mut self, c: &Command, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> String {
        let f = if self.chance(60) { "redis.pcall" } else { "redis.call" };
        let args: Vec<String> = c.iter().map(|a| self.arg_expr(a, keys, argv)).collect();
        let call = format!("{f}({})", args.join(", "));
        let name = String::from_utf8_lossy(&c[0]).to_ascii_uppercase();
        match name.as_str() {
            "KEYS" | "HKEYS" | "HVALS" => format!("srt({call})"),
            "HGETALL" => format!("hga({call})"),
            "TTL" | "PTTL" | "EXPIRETIME" | "PEXPIRETIME" => format!("pos({call})"),
            _ => call,
        }
    }

    fn arg_expr(&mut self, a: &[u8], keys: &[Vec<u8>], argv: &[Vec<u8>]) -> String {
        if let Some(i) = keys.iter().position(|k| k == a) {
            return format!("KEYS[{}]", i + 1);
        }
        if let Some(i) = argv.iter().position(|v| v == a) {
            if self.chance(80) {
                return format!("ARGV[{}]", i + 1);
            }
        }
        // Small integers now and then as Lua numbers (converted back to text by the server).
        if let Ok(n) = std::str::from_utf8(a).unwrap_or("x").parse::<i32>() {
            if !a.starts_with(b"+") && !a.starts_with(b"0") && !a.starts_with(b"-0") && self.chance(30) {
                return n.to_string();
            }
        }
        lua_string(a)
    }

    /// What the script returns, built from its results `r0..r{calls-1}`.
    fn return_expr(&mut self, calls: usize) -> String {
        let r = |g: &mut Self| format!("r{}", g.rng.random_range(0..calls));
        match self.rng.random_range(0..30) {
            0..=7 => r(self),
            8..=10 => {
                let items: Vec<String> = (0..calls).map(|i| format!("r{i}")).collect();
                format!("{{{}}}", items.join(", "))
            }
            11 => format!("type({})", r(self)),
            12 => format!("tonumber({})", r(self)),
            13 => format!("{{1, {}, false, 'after'}}", r(self)),
            14 => ["3.99", "-2.5", "{1.5, -0.5, 2.999}", "0.0"][self.rng.random_range(0..4)].to_owned(),
            15 => ["true", "false", "nil", "{true, false}"][self.rng.random_range(0..4)].to_owned(),
            16 => "redis.status_reply('FINE')".to_owned(),
            17 => "redis.error_reply('MYERR generated')".to_owned(),
            18 => "{err='plain error'}".to_owned(),
            19 => "{ok='OKAY'}".to_owned(),
            20 => format!(
                "{{double={}}}",
                ["1.5", "-0.25", "3", "1024.5", "0.1", "1e300", "-1e20", "1/3"][self.rng.random_range(0..8)]
            ),
            21 => "{map={only='one'}}".to_owned(),
            22 => "{set={'lonely'}}".to_owned(),
            23 => "{big_number='123456789012345678901234567890'}".to_owned(),
            24 => "{verbatim_string={format='txt', string='verb'}}".to_owned(),
            25 => format!("type({0}) == 'table' and ({0}.ok or {0}.err) or 'plain'", r(self)),
            26 => "redis.sha1hex(ARGV[1] or 'none')".to_owned(),
            27 => "cjson.encode({1, 'two', {3}, 4.5})".to_owned(),
            28 => "#KEYS * 100 + #ARGV".to_owned(),
            _ => format!("{{{}, KEYS[1], ARGV[1]}}", r(self)),
        }
    }
}
