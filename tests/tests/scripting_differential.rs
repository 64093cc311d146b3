//! Lua scripting (EVAL/EVALSHA/EVAL_RO/EVALSHA_RO, SCRIPT, FUNCTION, FCALL/FCALL_RO) against a real
//! `redis-server` 7.0, over two connections per server (A runs the scripts, B reads back and
//! writes), every reply compared byte for byte (the exceptions of `cache_tests::diff` apply to
//! plain commands; script replies have none), in RESP2 and in RESP3 (`HELLO 3`; scripts also
//! switch with `redis.setresp(3)`).
//!
//! - `cases_*`: a table of named cases, each a short stream run on fresh connections (FLUSHALL,
//!   and SCRIPT FLUSH / FUNCTION FLUSH where it matters); all cases run and every mismatch is
//!   reported together. They cover conversions both ways, `call` vs `pcall`, error texts with
//!   their `script: <sha>, on @user_script:N.` suffix, the sandbox, the libraries, shebang flags,
//!   read-only scripts, commands refused in scripts, SELECT inside a script, scripts in
//!   MULTI/EXEC, WRONGTYPE, undeclared keys, FUNCTION LOAD/LIST/DELETE/FLUSH/STATS and FCALL;
//! - `function_dump_restore`: FUNCTION DUMP of one library equal on both, and each server's dump
//!   restored (with its policies and errors);
//! - `random_*`: seeded streams from [`ScriptGenerator`] (bounded by a count and a time bound;
//!   `CACHE_TESTS_SEED=<u64>` replays one, `random` picks one).
//!

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cache_tests::diff::{self, Protocol};
use cache_tests::redis_server::RedisServer;
use cache_tests::resp::{Frame, RawConn, escape};
use cache_tests::script_gen::ScriptGenerator;
use cache_tests::tx_stream::{self, Step, a, b};
use cache_tests::{ServerOpts, Subject};

const DEFAULT_SEED: u64 = 0x5c41_0001;
/// Per-run bound on wall time: a run stops there (reported, not failed).
const TIME_BOUND: Duration = Duration::from_secs(25);
/// Scripts per random run.
const RANDOM_COUNT: usize = 3_000;

fn servers() -> Option<(RedisServer, Subject)> {
    let opts = ServerOpts::default();
    let reference = RedisServer::start(&opts.flags())?;
    let subject = Subject::start(&opts)?;
    Some((reference, subject))
}

/// `EVAL script numkeys keys... args...` on A.
fn ev(script: &str, keys: &[&str], args: &[&str]) -> Step {
    call("EVAL", script, keys, args)
}

/// `name body-or-sha numkeys keys... args...` on A.
fn call(name: &str, script: &str, keys: &[&str], args: &[&str]) -> Step {
    let n = keys.len().to_string();
    let mut parts = vec![name, script, n.as_str()];
    parts.extend(keys);
    parts.extend(args);
    a(&parts)
}

/// The sha1 of a script body (as redis-server computes it; a wrong one fails on redis as NOSCRIPT).
fn sha(body: &str) -> String {
    cache_server::scripting::sha1hex(body.as_bytes())
}

const LIB: &str = "#!lua name=mylib\n\
    local function echo(keys, args) return args[1] end\n\
    local function put(keys, args) return redis.call('SET', keys[1], args[1]) end\n\
    local function ro(keys, args) return redis.call('GET', keys[1]) end\n\
    redis.register_function('echo', echo)\n\
    redis.register_function{function_name='put', callback=put, description='writes'}\n\
    redis.register_function{function_name='ro', callback=ro, flags={'no-writes'}}\n";

/// A library with one function: FUNCTION LIST shows it the same way on both servers (functions
/// of one library, and libraries, are listed in hash-table order, which Redis does not define).
const LISTED: &str = "#!lua name=listed\n\
    redis.register_function{function_name='only', callback=function(keys, args) return #keys end, \
    description='the one', flags={'no-writes', 'allow-stale'}}\n";

/// The table: (name, steps).
#[allow(clippy::too_many_lines)]
fn cases() -> Vec<(&'static str, Vec<Step>)> {
    vec![
        (
            "lua to reply",
            vec![
                ev("return 1", &[], &[]),
                ev("return -42", &[], &[]),
                ev("return 3.99", &[], &[]),
                ev("return -3.99", &[], &[]),
                ev("return 'text'", &[], &[]),
                ev("return ''", &[], &[]),
                ev("return '\\0bin\\255'", &[], &[]),
                ev("return nil", &[], &[]),
                ev("return true", &[], &[]),
                ev("return false", &[], &[]),
                ev("return {}", &[], &[]),
                ev("return {1, 2, {3, 'x', {4.5}}, 'y'}", &[], &[]),
                ev("return {1, nil, 3}", &[], &[]),
                ev("return {1, false, 3}", &[], &[]),
                ev("return {true, false}", &[], &[]),
                ev("return {a=1, b=2}", &[], &[]),
                ev("return {1, 2, a=3}", &[], &[]),
                ev("return {ok='FINE'}", &[], &[]),
                ev("return {err='My error'}", &[], &[]),
                ev("return {err='no code here'}", &[], &[]),
                ev("return {ok='FINE', err='both'}", &[], &[]),
                ev("return {1, {err='nested'}, {ok='nok'}}", &[], &[]),
                ev("return redis.status_reply('STATUS')", &[], &[]),
                ev("return redis.error_reply('MYCODE my message')", &[], &[]),
                ev("return redis.error_reply('plain')", &[], &[]),
                ev("return redis.error_reply('-DASH err')", &[], &[]),
                ev("return {double=3.5}", &[], &[]),
                // Doubles as Redis writes them (`%.17g`).
                ev("return {double=1e300}", &[], &[]),
                ev("return {double=1e20}", &[], &[]),
                ev("return {double=-0.1}", &[], &[]),
                ev("return {double=3}", &[], &[]),
                ev("return {map={one=1}}", &[], &[]),
                ev("return {map={k={1, 2}}}", &[], &[]),
                ev("return {set={'a'}}", &[], &[]),
                ev("return {big_number='12345678901234567890'}", &[], &[]),
                ev("return {verbatim_string={format='txt', string='hello'}}", &[], &[]),
                ev("return {verbatim_string={format='mkd', string='# x'}}", &[], &[]),
                ev("return 2^53", &[], &[]),
                ev("return 1e15 + 0.5", &[], &[]),
                ev("return #ARGV", &[], &["a", "b"]),
                ev("return KEYS", &["k1", "k2"], &[]),
                ev("return ARGV", &[], &["x", "", "z"]),
                ev("return {KEYS[1], ARGV[1], KEYS[2]}", &["k"], &["a"]),
                ev("return type(KEYS)", &[], &[]),
            ],
        ),
        (
            "lua to reply, resp3 inside the script",
            vec![
                ev("redis.setresp(3) return true", &[], &[]),
                ev("redis.setresp(3) return false", &[], &[]),
                ev("redis.setresp(3) return {true, false, 1}", &[], &[]),
                ev("redis.setresp(3) return nil", &[], &[]),
                ev("redis.setresp(3) return {double=2.5}", &[], &[]),
                ev("redis.setresp(3) return {map={x='y'}}", &[], &[]),
                ev("redis.setresp(3) return {set={'only'}}", &[], &[]),
                ev("redis.setresp(3) return {big_number='-99999999999999999999'}", &[], &[]),
                ev("redis.setresp(2) return true", &[], &[]),
                ev("return redis.setresp(4)", &[], &[]),
                ev("return redis.setresp()", &[], &[]),
            ],
        ),
        (
            "reply to lua",
            vec![
                a(&["SET", "s", "val"]),
                a(&["HSET", "h", "f", "1"]),
                a(&["SET", "n", "10"]),
                ev("return redis.call('GET', KEYS[1])", &["s"], &[]),
                ev("return redis.call('GET', 'missing')", &[], &[]),
                ev("return type(redis.call('GET', 'missing'))", &[], &[]),
                ev("return tostring(redis.call('GET', 'missing'))", &[], &[]),
                ev("return redis.call('INCR', 'n') + 0.5", &[], &[]),
                ev("return type(redis.call('INCR', 'n'))", &[], &[]),
                ev("local r = redis.call('SET', 'x', 'y') return type(r) .. ':' .. r.ok", &[], &[]),
                ev("return redis.call('SET', 'x', 'y')", &[], &[]),
                ev("return redis.call('PING')", &[], &[]),
                ev("return redis.call('HGETALL', 'h')", &[], &[]),
                ev("return redis.call('MGET', 's', 'missing', 'n')", &[], &[]),
                ev("local t = redis.call('MGET', 's', 'missing', 'n') return #t", &[], &[]),
                ev("local t = redis.call('MGET', 'missing', 's') return type(t[1])", &[], &[]),
                ev("return redis.call('HGET', 'h', 'nofield')", &[], &[]),
                ev("redis.setresp(3) local m = redis.call('HGETALL', 'h') return m.map.f", &[], &[]),
                ev("redis.setresp(3) return redis.call('HGETALL', 'h')", &[], &[]),
                ev("redis.setresp(3) return type(redis.call('GET', 'missing'))", &[], &[]),
                ev("redis.setresp(3) return redis.call('GET', 'missing')", &[], &[]),
                ev("redis.setresp(3) return redis.call('EXISTS', 's')", &[], &[]),
                ev("redis.setresp(3) return redis.call('INCRBYFLOAT', 'fl', '1.5')", &[], &[]),
                ev("redis.setresp(3) return redis.call('HELLO', '3')", &[], &[]),
                ev("return redis.call('TYPE', 's')", &[], &[]),
                ev("return redis.call('TYPE', 's').ok", &[], &[]),
            ],
        ),
        (
            "call vs pcall",
            vec![
                a(&["SET", "s", "text"]),
                ev("return redis.call('INCR', 's')", &[], &[]),
                ev("return redis.pcall('INCR', 's')", &[], &[]),
                ev("local r = redis.pcall('INCR', 's') return type(r) .. ' ' .. r.err", &[], &[]),
                ev("local ok, e = pcall(redis.call, 'INCR', 's') return {tostring(ok), e}", &[], &[]),
                ev("local ok, e = pcall(function() return redis.call('INCR', 's') end) return e", &[], &[]),
                ev("redis.call('NOSUCH')", &[], &[]),
                ev("return redis.pcall('NOSUCH')", &[], &[]),
                ev("return redis.call('GET')", &[], &[]),
                ev("return redis.pcall('GET', 'a', 'b')", &[], &[]),
                ev("return redis.call()", &[], &[]),
                ev("return redis.call({})", &[], &[]),
                ev("return redis.call('GET', {})", &[], &[]),
                ev("return redis.call('SET', 'k', 1.5)", &[], &[]),
                ev("redis.call('SET', 'k', 12345678901234) return redis.call('GET', 'k')", &[], &[]),
                ev("redis.call('SET', 'k', 2^63) return redis.call('GET', 'k')", &[], &[]),
                ev("redis.call('SET', 'k', 0.1) return redis.call('GET', 'k')", &[], &[]),
                ev("return redis.call('SET', 'k', nil)", &[], &[]),
                ev("return redis.call('SET', 'k', true)", &[], &[]),
                ev("error('boom')", &[], &[]),
                ev("error({err='TABLE err'})", &[], &[]),
                ev("error('no position', 0)", &[], &[]),
                ev("error()", &[], &[]),
                ev("local x = nil; return x.field", &[], &[]),
                ev("\n\nreturn redis.call('INCR', 's')", &[], &[]),
                ev("return redis.call('HGET', 's', 'f')", &[], &[]),
                ev("return redis.pcall('HGET', 's', 'f')", &[], &[]),
                ev("return redis.error_reply(redis.pcall('INCR', 's').err)", &[], &[]),
                ev("return {redis.pcall('INCR', 's')}", &[], &[]),
                ev("return redis.call('EXPIRE', 's', 'abc')", &[], &[]),
                ev("return redis.call('SET', 'a', 'b', 'EX', '0')", &[], &[]),
                ev("return redis.call('SELECT', '99')", &[], &[]),
            ],
        ),
        (
            "sha1hex, script cache, noscript",
            vec![
                a(&["SCRIPT", "FLUSH"]),
                ev("return redis.sha1hex('')", &[], &[]),
                ev("return redis.sha1hex(ARGV[1])", &[], &["hello world"]),
                ev("return redis.sha1hex(42)", &[], &[]),
                ev("return redis.sha1hex()", &[], &[]),
                a(&["SCRIPT", "EXISTS", &sha("return 'cached'"), &sha("return 1")]),
                a(&["SCRIPT", "LOAD", "return 'cached'"]),
                a(&["SCRIPT", "EXISTS", &sha("return 'cached'"), &sha("return 1")]),
                call("EVALSHA", &sha("return 'cached'"), &[], &[]),
                call("EVALSHA", &sha("return 'cached'").to_uppercase(), &[], &[]),
                call("EVALSHA_RO", &sha("return 'cached'"), &[], &[]),
                call("EVALSHA", &sha("return 'never loaded'"), &[], &[]),
                call("EVALSHA", "notasha", &[], &[]),
                call("EVALSHA_RO", &sha("return 'never loaded'"), &[], &[]),
                ev("return 1", &[], &[]),
                a(&["SCRIPT", "EXISTS", &sha("return 1")]),
                a(&["SCRIPT", "LOAD", "return +"]),
                a(&["SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1"]),
                a(&["SCRIPT", "FLUSH", "ASYNC"]),
                a(&["SCRIPT", "FLUSH", "SYNC"]),
                a(&["SCRIPT", "FLUSH", "BOGUS"]),
                a(&["SCRIPT", "EXISTS", &sha("return 'cached'")]),
                call("EVALSHA", &sha("return 'cached'"), &[], &[]),
                a(&["SCRIPT", "NOSUCH"]),
                a(&["SCRIPT", "KILL"]),
                a(&["SCRIPT"]),
                a(&["SCRIPT", "LOAD"]),
                a(&["SCRIPT", "EXISTS"]),
            ],
        ),
        (
            "syntax and runtime errors",
            vec![
                ev("return +", &[], &[]),
                ev("retur 1", &[], &[]),
                ev("local t = {} t.x.y = 1", &[], &[]),
                ev("return 1 + 'a'", &[], &[]),
                ev("return #nil", &[], &[]),
                ev("\nlocal a = 1\nerror('line three')", &[], &[]),
                ev("return ('x'):rep(3)", &[], &[]),
                ev("return string.format('%d-%s-%5.2f', 3, 'x', 1.5)", &[], &[]),
                ev("return tostring(1/3)", &[], &[]),
                ev("return tostring(1e100)", &[], &[]),
                ev("return tostring(0/0) ~= nil", &[], &[]),
                ev("return math.floor(-3.5)", &[], &[]),
                ev("return table.concat({1, 2, 3}, ',')", &[], &[]),
                ev("return string.byte('A')", &[], &[]),
                ev("return unpack({1, 2, 3})", &[], &[]),
                ev("return select('#', 1, nil, 3)", &[], &[]),
                ev("return tonumber('0x10')", &[], &[]),
                ev("return tonumber('  12  ')", &[], &[]),
            ],
        ),
        (
            "sandbox",
            vec![
                ev("x = 1", &[], &[]),
                ev("return undefined_global", &[], &[]),
                ev("local function f() y = 2 end f()", &[], &[]),
                ev("return os.time()", &[], &[]),
                ev("return type(os)", &[], &[]),
                ev("return io.write('x')", &[], &[]),
                ev("return type(io)", &[], &[]),
                ev("print('x')", &[], &[]),
                ev("return type(loadfile)", &[], &[]),
                ev("return type(dofile)", &[], &[]),
                ev("return type(require)", &[], &[]),
                ev("return type(debug)", &[], &[]),
                ev("return type(setfenv)", &[], &[]),
                ev("return type(getfenv)", &[], &[]),
                ev("return type(loadstring)", &[], &[]),
                ev("return type(redis.breakpoint)", &[], &[]),
                ev("redis.call = nil", &[], &[]),
                ev("redis.newfield = 1", &[], &[]),
                ev("cjson = nil", &[], &[]),
                ev("string.foo = 1 return 'ok'", &[], &[]),
                ev("table.insert = nil", &[], &[]),
                ev("return _G.KEYS ~= nil", &[], &[]),
                ev("_G.z = 1", &[], &[]),
                ev("local t = setmetatable({}, {__index = function() return 'meta' end}) return t.x", &[], &[]),
                ev("return tostring(math.random() < 1)", &[], &[]),
                ev("return redis.REDIS_VERSION_NUM ~= nil", &[], &[]),
                ev("return type(redis.REDIS_VERSION)", &[], &[]),
                ev("return redis.LOG_WARNING", &[], &[]),
                ev("redis.log(redis.LOG_WARNING, 'from a test') return 'logged'", &[], &[]),
                ev("redis.log(99, 'x')", &[], &[]),
                ev("return redis.set_repl(redis.REPL_ALL)", &[], &[]),
                ev("redis.replicate_commands() return 'ok'", &[], &[]),
                ev("return type(bit) .. type(struct) .. type(cjson) .. type(cmsgpack)", &[], &[]),
            ],
        ),
        (
            "libraries",
            vec![
                ev("return cjson.encode({1, 'two', {3}, 4.5, true, false})", &[], &[]),
                ev("return cjson.encode({a=1})", &[], &[]),
                ev("return cjson.encode('quo\"te\\n')", &[], &[]),
                ev("return cjson.encode(0.1)", &[], &[]),
                ev("return cjson.encode(1e300)", &[], &[]),
                ev("return cjson.encode({})", &[], &[]),
                ev("return cjson.encode(cjson.null)", &[], &[]),
                ev("return cjson.decode('[1, \"x\", [2.5, true], {\"a\": 7}]')[4].a", &[], &[]),
                ev("return cjson.decode('[1, \"x\", [2.5, true]]')", &[], &[]),
                ev("return type(cjson.decode('null'))", &[], &[]),
                ev("return cjson.decode('{bad')", &[], &[]),
                ev("return cjson.decode('\"\\\\u00e9\"')", &[], &[]),
                ev("return cjson.encode(cjson.decode('{\"k\":[1,2,{\"n\":null}]}'))", &[], &[]),
                ev("return cmsgpack.pack({1, 2, 'x', 3.5, true})", &[], &[]),
                ev("return cmsgpack.pack('a string', 127, -1, 65536, 2^40)", &[], &[]),
                ev("return {cmsgpack.unpack(cmsgpack.pack({10, 'y', {20}}))}", &[], &[]),
                ev("return cmsgpack.unpack(cmsgpack.pack(-5))", &[], &[]),
                ev("return bit.band(0xff, 0x0f)", &[], &[]),
                ev("return bit.bor(1, 2, 4)", &[], &[]),
                ev("return bit.bxor(5, 3)", &[], &[]),
                ev("return bit.lshift(1, 40)", &[], &[]),
                ev("return bit.tohex(255)", &[], &[]),
                ev("return bit.tohex(-1, 4)", &[], &[]),
                ev("return bit.tobit(2^32 + 5)", &[], &[]),
                ev("return bit.bnot(0)", &[], &[]),
                ev("return bit.arshift(-256, 4)", &[], &[]),
                ev("return struct.pack('>I2', 258)", &[], &[]),
                ev("return struct.pack('<i4 s', -2, 'str')", &[], &[]),
                ev("return {struct.unpack('>I2', '\\1\\2')}", &[], &[]),
                ev("return struct.size('>I4 i2 b')", &[], &[]),
                ev("return struct.pack('Q', 1)", &[], &[]),
            ],
        ),
        (
            "numkeys",
            vec![
                ev("return 1", &[], &[]),
                a(&["EVAL", "return 1", "-1"]),
                a(&["EVAL", "return 1", "3", "a"]),
                a(&["EVAL", "return 1", "x"]),
                a(&["EVAL", "return 1", "1.5"]),
                a(&["EVAL", "return 1"]),
                a(&["EVAL"]),
                a(&["EVAL", "return {#KEYS, #ARGV}", "2", "a", "b"]),
                a(&["EVALSHA", &sha("return 1"), "-1"]),
                a(&["FCALL", "nosuch", "-1"]),
                a(&["FCALL", "nosuch", "5"]),
            ],
        ),
        (
            "read-only scripts and shebangs",
            vec![
                a(&["SET", "k", "v"]),
                call("EVAL_RO", "return redis.call('GET', KEYS[1])", &["k"], &[]),
                call("EVAL_RO", "return redis.call('SET', KEYS[1], 'w')", &["k"], &[]),
                call("EVAL_RO", "return redis.pcall('DEL', KEYS[1])", &["k"], &[]),
                call("EVAL_RO", "redis.call('GET', 'k') return redis.call('INCR', 'n')", &[], &[]),
                ev("#!lua flags=no-writes\nreturn redis.call('SET', 'k', 'w')", &[], &[]),
                ev("#!lua flags=no-writes\nreturn redis.call('GET', 'k')", &[], &[]),
                ev("#!lua flags=no-writes,allow-stale\nreturn 'two flags'", &[], &[]),
                ev("#!lua\nreturn redis.call('SET', 'k', 'shebang')", &[], &[]),
                ev("#!lua flags=\nreturn 'empty flags'", &[], &[]),
                ev("#!lua flags=bogus\nreturn 1", &[], &[]),
                ev("#!lua name=x\nreturn 1", &[], &[]),
                ev("#!python\nreturn 1", &[], &[]),
                ev("#!lua flags=no-writes,no-cluster\nreturn 1", &[], &[]),
                ev("#!lua flags=allow-oom\nreturn 1", &[], &[]),
                ev("#!\nreturn 1", &[], &[]),
                ev("#!lua flags=no-writes\nerror('line two')", &[], &[]),
                call("EVAL_RO", "return redis.call('FLUSHALL')", &[], &[]),
                a(&["GET", "k"]),
            ],
        ),
        (
            "commands refused in scripts",
            vec![
                ev("return redis.call('MULTI')", &[], &[]),
                ev("return redis.pcall('EXEC')", &[], &[]),
                ev("return redis.call('WATCH', 'k')", &[], &[]),
                ev("return redis.call('UNWATCH')", &[], &[]),
                ev("return redis.call('EVAL', 'return 1', '0')", &[], &[]),
                ev("return redis.call('EVALSHA', 'abc', '0')", &[], &[]),
                ev("return redis.call('FCALL', 'f', '0')", &[], &[]),
                ev("return redis.call('SCRIPT', 'FLUSH')", &[], &[]),
                ev("return redis.call('SCRIPT', 'LOAD', 'return 1')", &[], &[]),
                ev("return redis.call('FUNCTION', 'FLUSH')", &[], &[]),
                ev("return redis.call('SUBSCRIBE', 'ch')", &[], &[]),
                ev("return redis.call('PSUBSCRIBE', 'ch*')", &[], &[]),
                ev("return redis.call('CLIENT', 'KILL', 'ID', '999999')", &[], &[]),
                ev("return redis.call('AUTH', 'x')", &[], &[]),
                ev("return redis.call('QUIT')", &[], &[]),
                ev("return redis.call('RESET')", &[], &[]),
                ev("return redis.pcall('PUBLISH', 'ch', 'msg')", &[], &[]),
                ev("return redis.call('ECHO', 'fine')", &[], &[]),
            ],
        ),
        (
            "select inside a script",
            vec![
                ev("redis.call('SELECT', 1) return redis.call('SET', 'indb1', 'v')", &[], &[]),
                a(&["GET", "indb1"]),
                a(&["SELECT", "1"]),
                a(&["GET", "indb1"]),
                ev(
                    "redis.call('SELECT', 0) redis.call('SET', 'indb0', 'x') return redis.call('GET', 'indb0')",
                    &[],
                    &[],
                ),
                ev("redis.call('SELECT', 1) return redis.call('DBSIZE')", &[], &[]),
                ev("redis.call('SET', 'indb0', 'x') return redis.call('DBSIZE')", &[], &[]),
                ev("redis.call('SET', KEYS[1], 'y') return redis.call('DBSIZE')", &["x"], &[]),
                a(&["EXISTS", "indb0", "indb1"]),
                a(&["SELECT", "0"]),
                a(&["EXISTS", "indb0", "indb1"]),
                ev("return redis.call('SELECT', 'x')", &[], &[]),
            ],
        ),
        (
            "scripts inside multi/exec",
            vec![
                a(&["MULTI"]),
                ev("return redis.call('SET', 'm', '1')", &[], &[]),
                ev("return redis.call('INCR', 'm')", &[], &[]),
                ev("return redis.call('HSET', 'm', 'f', 'v')", &[], &[]),
                ev("return {1, 2.5, 'x'}", &[], &[]),
                ev("error('inside exec')", &[], &[]),
                a(&["GET", "m"]),
                a(&["EXEC"]),
                a(&["WATCH", "w"]),
                b(&["EVAL", "return redis.call('SET', 'w', 'touched')", "0"]),
                a(&["MULTI"]),
                ev("return redis.call('GET', 'w')", &[], &[]),
                a(&["EXEC"]),
                a(&["MULTI"]),
                a(&["EVAL", "return 1"]),
                a(&["EXEC"]),
                a(&["MULTI"]),
                call("EVALSHA", &sha("return 'not loaded in multi'"), &[], &[]),
                a(&["EXEC"]),
            ],
        ),
        (
            "wrongtype and undeclared keys",
            vec![
                a(&["HSET", "h", "f", "v"]),
                a(&["SET", "s", "v"]),
                ev("return redis.call('GET', KEYS[1])", &["h"], &[]),
                ev("return redis.pcall('GET', KEYS[1])", &["h"], &[]),
                ev("return redis.call('HGET', 's', 'f')", &[], &[]),
                ev("return redis.call('APPEND', 'h', 'x')", &[], &[]),
                ev("local n = 0 for i = 1, 20 do n = n + redis.call('INCR', 'u' .. i) end return n", &["u1"], &[]),
                ev("redis.call('SET', ARGV[1] .. ':a', 1) return redis.call('GET', ARGV[1] .. ':a')", &[], &["dyn"]),
                ev("return redis.call('MGET', 'u1', 'u2', 'u20', 's')", &["s"], &[]),
                ev("return redis.call('RENAME', 'u1', 'renamed')", &["u1"], &[]),
                ev("return redis.call('EXISTS', 'u1', 'renamed')", &[], &[]),
                ev("local t = redis.call('KEYS', 'u1*') table.sort(t) return t", &[], &[]),
                ev("return redis.call('DEL', 'u2', 'u3', 'nothing')", &["u2"], &[]),
                a(&["MGET", "u1", "u2", "u3", "u4", "renamed", "dyn:a"]),
            ],
        ),
        (
            "expiry from scripts",
            vec![
                ev("redis.call('SET', 'e', 'v', 'EX', 1000) return redis.call('TTL', 'e')", &[], &[]),
                ev("return redis.call('EXPIRE', 'e', 0)", &[], &[]),
                ev("return redis.call('EXISTS', 'e')", &[], &[]),
                ev("redis.call('SET', 'e', 'v') return redis.call('PERSIST', 'e')", &[], &[]),
                ev("return redis.call('PEXPIRE', 'e', 10000000, 'NX')", &[], &[]),
                ev("return redis.call('EXPIRE', 'e', 5, 'GT')", &[], &[]),
                ev("return redis.call('GETEX', 'e', 'PERSIST')", &[], &[]),
                a(&["TTL", "e"]),
            ],
        ),
        (
            "functions",
            vec![
                a(&["FUNCTION", "FLUSH"]),
                a(&["FUNCTION", "LIST"]),
                a(&["FUNCTION", "STATS"]),
                a(&["FUNCTION", "LOAD", LIB]),
                a(&["FUNCTION", "LOAD", LIB]),
                a(&["FUNCTION", "LIST", "LIBRARYNAME", "other*"]),
                a(&["FUNCTION", "LOAD", LISTED]),
                a(&["FUNCTION", "LIST", "LIBRARYNAME", "list*"]),
                a(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "listed"]),
                a(&["FUNCTION", "LIST", "LIBRARYNAME"]),
                a(&["FCALL_RO", "only", "2", "a", "b"]),
                a(&["FUNCTION", "DELETE", "listed"]),
                a(&["FUNCTION", "LIST", "BOGUS"]),
                a(&["FUNCTION", "STATS"]),
                a(&["FCALL", "echo", "0", "hello"]),
                a(&["FCALL", "put", "1", "fk", "fv"]),
                a(&["FCALL", "ro", "1", "fk"]),
                a(&["FCALL_RO", "ro", "1", "fk"]),
                a(&["FCALL_RO", "put", "1", "fk", "x"]),
                a(&["FCALL_RO", "echo", "0", "x"]),
                a(&["FCALL", "nosuch", "0"]),
                a(&["FCALL_RO", "nosuch", "0"]),
                a(&["FCALL", "echo"]),
                a(&["FCALL", "echo", "x"]),
                a(&["FUNCTION", "LOAD", "REPLACE", LIB]),
                a(&["FUNCTION", "LOAD", "#!lua name=mylib2\nredis.register_function('echo', function() return 1 end)"]),
                a(&["FUNCTION", "LOAD", "#!lua name=bad\nreturn 1"]),
                a(&["FUNCTION", "LOAD", "#!lua name=bad\nredis.call('GET', 'x')"]),
                a(&["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('f', 5)"]),
                a(&["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('f', function() end, 'x')"]),
                a(&["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('1bad name', function() end)"]),
                a(&[
                    "FUNCTION",
                    "LOAD",
                    "#!lua name=bad\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
                ]),
                a(&["FUNCTION", "LOAD", "#!lua name=bad\nsyntax error here"]),
                a(&["FUNCTION", "LOAD", "#!lua\nredis.register_function('f', function() end)"]),
                a(&["FUNCTION", "LOAD", "#!lua name=bad foo=bar\nredis.register_function('f', function() end)"]),
                a(&["FUNCTION", "LOAD", "no shebang"]),
                a(&["FUNCTION", "LOAD", "#!lua name=empty\n"]),
                a(&["FUNCTION", "LOAD", "#!lua name=fail\nredis.register_function('f', function() error('in f') end)"]),
                a(&["FCALL", "f", "0"]),
                a(&[
                    "FUNCTION",
                    "LOAD",
                    "#!lua name=wt\nredis.register_function('wt', function(k) return redis.call('HGET', k[1], 'x') end)",
                ]),
                a(&["FCALL", "wt", "1", "fk"]),
                a(&["FUNCTION", "DELETE", "fail"]),
                a(&["FUNCTION", "DELETE", "wt"]),
                a(&["FUNCTION", "DELETE", "nosuch"]),
                a(&["FUNCTION", "STATS"]),
                a(&["FUNCTION", "FLUSH", "ASYNC"]),
                a(&["FUNCTION", "FLUSH", "BOGUS"]),
                a(&["FUNCTION", "LIST"]),
                a(&["FCALL", "echo", "0", "gone"]),
                a(&["FUNCTION", "KILL"]),
                a(&["FUNCTION", "NOSUCH"]),
                a(&["FUNCTION", "RESTORE", "garbage"]),
                a(&["GET", "fk"]),
            ],
        ),
    ]
}

/// Runs every case of the table on `protocol`; panics with every mismatch found.
fn run_cases(protocol: Protocol) {
    let Some((reference, subject)) = servers() else { return };
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, mut steps) in cases() {
        // Each case starts with empty caches (FLUSHALL does not reach them).
        steps.insert(0, b(&["SCRIPT", "FLUSH"]));
        steps.insert(1, b(&["FUNCTION", "FLUSH"]));
        match tx_stream::run(subject.addr(), reference.addr(), name, steps, protocol, TIME_BOUND) {
            Ok(o) => {
                assert!(!o.hit_time_bound, "{name}: a fixed table must finish within {TIME_BOUND:?}");
                compared += o.compared;
            }
            Err(report) => failures.push(report),
        }
    }
    eprintln!("scripting cases {protocol:?}: {compared} replies compared, {} cases failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn cases_resp2() {
    run_cases(Protocol::Resp2);
}

#[test]
fn cases_resp3() {
    run_cases(Protocol::Resp3);
}

fn bulk_bytes(f: &Frame) -> Option<Vec<u8>> {
    match f {
        Frame::Bulk(Some(b)) => Some(b.clone()),
        _ => None,
    }
}

/// FUNCTION DUMP of one library is the same payload on both servers; each server restores its own
/// dump after a FLUSH, refuses it again without REPLACE (and with APPEND), accepts FLUSH and
/// REPLACE policies, and the functions work after it. Then a dump of the other server is restored.
#[test]
fn function_dump_restore() {
    let Some((reference, subject)) = servers() else { return };
    let mut ours = RawConn::connect(subject.addr()).expect("connect ours");
    let mut theirs = RawConn::connect(reference.addr()).expect("connect redis");
    let both = |x: &mut RawConn, y: &mut RawConn, cmd: &[&[u8]]| {
        let rx = x.cmd_raw(cmd).expect("ours");
        let ry = y.cmd_raw(cmd).expect("redis");
        let shown: Vec<String> = cmd.iter().map(|a| escape(a)).collect();
        assert_eq!(escape(&rx.1), escape(&ry.1), "{shown:?}: ours (left) vs redis (right)");
        rx.0
    };
    both(&mut ours, &mut theirs, &[b"FUNCTION", b"FLUSH"]);
    both(&mut ours, &mut theirs, &[b"FUNCTION", b"DUMP"]);
    both(&mut ours, &mut theirs, &[b"FUNCTION", b"LOAD", LIB.as_bytes()]);
    let dump = bulk_bytes(&both(&mut ours, &mut theirs, &[b"FUNCTION", b"DUMP"])).expect("a dump");
    let mut corrupt = dump.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let steps: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"RESTORE", &dump],
        vec![b"FUNCTION", b"RESTORE", &dump, b"APPEND"],
        vec![b"FUNCTION", b"RESTORE", &dump, b"REPLACE"],
        vec![b"FUNCTION", b"RESTORE", &dump, b"FLUSH"],
        vec![b"FUNCTION", b"RESTORE", &dump, b"BOGUS"],
        vec![b"FUNCTION", b"RESTORE", &corrupt],
        vec![b"FUNCTION", b"RESTORE", &dump[..dump.len() / 2]],
        vec![b"FUNCTION", b"FLUSH"],
        vec![b"FCALL", b"echo", b"0", b"x"],
        vec![b"FUNCTION", b"RESTORE", &dump],
        vec![b"FCALL", b"echo", b"0", b"restored"],
        vec![b"FUNCTION", b"STATS"],
        vec![b"FUNCTION", b"DUMP"],
    ];
    for cmd in &steps {
        both(&mut ours, &mut theirs, cmd);
    }
}

fn random(protocol: Protocol, seed_offset: u64) {
    let Some((reference, subject)) = servers() else { return };
    let seed = diff::seed_from_env(DEFAULT_SEED) ^ seed_offset;
    let base_unix = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let mut generator = ScriptGenerator::new(seed, base_unix);
    let steps: Vec<Step> = (0..RANDOM_COUNT).map(|_| Step::A(generator.next_command())).collect();
    eprintln!("scripts {protocol:?}: {} vs redis-server, seed {seed}, {} steps", subject.name(), steps.len());
    let label = format!("seed {seed}");
    let prep = [b(&["SCRIPT", "FLUSH"])];
    match tx_stream::run(subject.addr(), reference.addr(), &label, prep.into_iter().chain(steps), protocol, TIME_BOUND)
    {
        Ok(o) => eprintln!("scripts {protocol:?}: {o:?}"),
        Err(report) => panic!("{report}\nreplay with CACHE_TESTS_SEED={}", seed ^ seed_offset),
    }
}

#[test]
fn random_resp2() {
    random(Protocol::Resp2, 0);
}

#[test]
fn random_resp3() {
    random(Protocol::Resp3, 0x3);
}
