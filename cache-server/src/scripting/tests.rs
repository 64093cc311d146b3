//! Tests of the scripting engine against a small in-memory [`Host`]. Expected error texts and
//! replies marked "redis 7.0.15" were read from a real redis-server 7.0.15 on this machine.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::reply::Reply;

/// A HashMap-backed GET/SET/INCR/DEL/PING/HGETALL that encodes RESP itself.
#[derive(Debug, Default)]
pub(super) struct TestHost {
    pub kv: HashMap<Vec<u8>, Vec<u8>>,
    pub logs: Vec<(LogLevel, String)>,
}

impl Host for TestHost {
    fn call(&mut self, args: &[Bytes], resp3: bool) -> Bytes {
        let mut r = Reply { resp3, ..Reply::default() };
        let name = args[0].to_ascii_lowercase();
        match (name.as_slice(), args.len()) {
            (b"get", 2) => match self.kv.get(&args[1][..]) {
                Some(v) => r.bulk(v),
                None => r.null(),
            },
            (b"set", 3) => {
                self.kv.insert(args[1].to_vec(), args[2].to_vec());
                r.ok();
            }
            (b"del", n) if n >= 2 => {
                let gone = args[1..].iter().filter(|k| self.kv.remove(&k[..]).is_some()).count();
                r.int(gone as i64);
            }
            (b"incr", 2) => {
                let cur = self.kv.get(&args[1][..]).map(|v| String::from_utf8_lossy(v).parse::<i64>());
                match cur {
                    Some(Err(_)) => r.error("ERR value is not an integer or out of range"),
                    other => {
                        let n = other.map(|x| x.unwrap_or(0)).unwrap_or(0) + 1;
                        self.kv.insert(args[1].to_vec(), n.to_string().into_bytes());
                        r.int(n);
                    }
                }
            }
            (b"ping", 1) => r.simple("PONG"),
            (b"hgetall", 2) => {
                r.map(1);
                r.bulk(b"f");
                r.bulk(b"v");
            }
            (b"dbl", _) => r.double(3.5),
            (b"get" | b"set" | b"del" | b"incr" | b"ping", _) => {
                r.error("ERR Wrong number of args calling Redis command from script")
            }
            _ => r.error("ERR Unknown Redis command called from script"),
        }
        r.buf.freeze()
    }

    fn log(&mut self, level: LogLevel, msg: &str) {
        self.logs.push((level, msg.to_string()));
    }
}

fn eval_with(host: &mut TestHost, body: &str, keys: &[&str], argv: &[&str], resp3: bool) -> Result<Vec<u8>, String> {
    let scripts = Scripts::new(1 << 20);
    let keys: Vec<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect();
    let argv: Vec<Bytes> = argv.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect();
    let mut out = Reply { resp3, ..Reply::default() };
    run(&scripts, ScriptRef::Body(body.as_bytes()), &keys, &argv, host, &RunControl::default(), &mut out)?;
    Ok(out.buf.to_vec())
}

fn eval(body: &str) -> Result<String, String> {
    eval_with(&mut TestHost::default(), body, &[], &[], false).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn eval3(body: &str) -> Result<String, String> {
    eval_with(&mut TestHost::default(), body, &[], &[], true).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn sha(body: &str) -> String {
    sha1hex(body.as_bytes())
}

#[test]
fn lua_to_resp2() {
    // redis 7.0.15
    assert_eq!(eval("return {1,2,3.7,'x',nil,4}").unwrap(), "*4\r\n:1\r\n:2\r\n:3\r\n$1\r\nx\r\n");
    assert_eq!(eval("return {true,false}").unwrap(), "*2\r\n:1\r\n$-1\r\n");
    assert_eq!(eval("return -3.99").unwrap(), ":-3\r\n");
    assert_eq!(eval("return 1e30").unwrap(), ":-9223372036854775808\r\n");
    assert_eq!(eval("return {ok='fine'}").unwrap(), "+fine\r\n");
    assert_eq!(eval("return {double=3.5}").unwrap(), "$3\r\n3.5\r\n");
    assert_eq!(eval("return {double='x'}").unwrap(), "*0\r\n");
    assert_eq!(eval("return {map={a=1}}").unwrap(), "*2\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval("return {set={a=true}}").unwrap(), "*1\r\n$1\r\na\r\n");
    assert_eq!(eval("return {big_number='123'}").unwrap(), "$3\r\n123\r\n");
    assert_eq!(eval("return {verbatim_string={format='txt',string='hi'}}").unwrap(), "$2\r\nhi\r\n");
    assert_eq!(eval("return nil").unwrap(), "$-1\r\n");
    assert_eq!(eval("return redis.status_reply('FOO')").unwrap(), "+FOO\r\n");
    assert_eq!(eval("return redis.sha1hex('')").unwrap(), "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n");
    assert_eq!(eval("return redis.sha1hex(1)").unwrap(), "$40\r\n356a192b7913b04c54574d18c28d46e6395428ab\r\n");
    assert_eq!(
        eval("return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}").unwrap(),
        "*2\r\n$6\r\n7.0.15\r\n:458767\r\n"
    );
}

#[test]
fn lua_to_resp3() {
    // redis 7.0.15, after HELLO 3
    assert_eq!(eval3("return {true,false,nil}").unwrap(), "*2\r\n:1\r\n_\r\n");
    assert_eq!(eval3("redis.setresp(3); return {true,false}").unwrap(), "*2\r\n#t\r\n#f\r\n");
    assert_eq!(eval3("return {double=3.5}").unwrap(), ",3.5\r\n");
    assert_eq!(eval3("return {map={a=1}}").unwrap(), "%1\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval3("return {set={a=true}}").unwrap(), "~1\r\n$1\r\na\r\n");
    assert_eq!(eval3("return {big_number='123'}").unwrap(), "(123\r\n");
    assert_eq!(eval3("return {verbatim_string={format='txt',string='hi'}}").unwrap(), "=6\r\ntxt:hi\r\n");
    assert_eq!(eval3("return nil").unwrap(), "_\r\n");
    // RESP2 caller of a RESP3 script: booleans as integers.
    assert_eq!(eval("redis.setresp(3); return {true,false}").unwrap(), "*2\r\n:1\r\n:0\r\n");
}

#[test]
fn resp_to_lua_both_protocols() {
    let mut h = TestHost::default();
    let r = eval_with(&mut h, "redis.call('set','k','v'); local v = redis.call('get','nokey'); return {type(v), tostring(v), redis.call('get','k'), redis.call('ping').ok, redis.call('incr','n')}", &[], &[], false).unwrap();
    assert_eq!(String::from_utf8_lossy(&r), "*5\r\n$7\r\nboolean\r\n$5\r\nfalse\r\n$1\r\nv\r\n$4\r\nPONG\r\n:1\r\n");
    let r = eval_with(&mut h, "redis.setresp(3); local m = redis.call('hgetall','h'); local d = redis.call('dbl'); return {m.map.f, type(redis.call('get','nokey')), d.double}", &[], &[], false).unwrap();
    assert_eq!(String::from_utf8_lossy(&r), "*3\r\n$1\r\nv\r\n$3\r\nnil\r\n:3\r\n");
    // Numbers become %.17g strings (redis 7.0.15: GET f after SET f 0.1 → 0.10000000000000001).
    eval_with(&mut h, "redis.call('set','f',0.1); redis.call('set','i',12)", &[], &[], false).unwrap();
    assert_eq!(h.kv[&b"f"[..]], b"0.10000000000000001");
    assert_eq!(h.kv[&b"i"[..]], b"12");
    let r = eval_with(&mut h, "return {KEYS[1], ARGV[2], #KEYS, #ARGV}", &["k1"], &["a", "b"], false).unwrap();
    assert_eq!(String::from_utf8_lossy(&r), "*4\r\n$2\r\nk1\r\n$1\r\nb\r\n:1\r\n:2\r\n");
}

#[test]
fn errors_match_redis() {
    // All texts: redis 7.0.15.
    let b = "return x";
    assert_eq!(
        eval(b).unwrap_err(),
        format!(
            "ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: {}, on @user_script:1.",
            sha(b)
        )
    );
    let b = "x=1";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.", sha(b))
    );
    let b = "redis.foo=1";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.", sha(b))
    );
    let b = "rawset(_G,'x',1)";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR Attempt to modify a readonly table script: {}, on @user_script:1.", sha(b))
    );
    let b = "return redis.call('incr','a','b')";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR Wrong number of args calling Redis command from script script: {}, on @user_script:1.", sha(b))
    );
    assert_eq!(
        eval("return redis.pcall('incr','a','b')").unwrap_err(),
        "ERR Wrong number of args calling Redis command from script"
    );
    assert_eq!(eval("return redis.pcall('nosuch')").unwrap_err(), "ERR Unknown Redis command called from script");
    let b = "error('boom')";
    assert_eq!(eval(b).unwrap_err(), format!("ERR user_script:1: boom script: {}, on @user_script:1.", sha(b)));
    let b = "error({err='MY boom'})";
    assert_eq!(eval(b).unwrap_err(), format!("MY boom script: {}, on @user_script:1.", sha(b)));
    let b = "error('x',0)";
    assert_eq!(eval(b).unwrap_err(), format!("ERR x script: {}, on @user_script:1.", sha(b)));
    let b = "error()";
    assert_eq!(eval(b).unwrap_err(), format!("ERR nil script: {}, on @user_script:1.", sha(b)));
    let b = "local a = 1\nerror('two')";
    assert_eq!(eval(b).unwrap_err(), format!("ERR user_script:2: two script: {}, on @user_script:2.", sha(b)));
    assert_eq!(eval("return redis.error_reply('MY x')").unwrap_err(), "MY x");
    assert_eq!(eval("return redis.error_reply('x')").unwrap_err(), "ERR x");
    assert_eq!(eval("return redis.error_reply('-MY x y')").unwrap_err(), "MY x y");
    assert_eq!(eval("return {err='-MY x y'}").unwrap_err(), "-MY x y");
    assert_eq!(eval("return {err='x'}").unwrap_err(), "x");
    assert_eq!(eval("return redis.error_reply()").unwrap_err(), "ERR wrong number or type of arguments");
    assert_eq!(eval("return redis.status_reply(1)").unwrap_err(), "ERR wrong number or type of arguments");
    let b = "return 1 +";
    assert_eq!(
        eval(b).unwrap_err(),
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    );
    let b = "return 'a' .. nil";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR user_script:1: attempt to concatenate a nil value script: {}, on @user_script:1.", sha(b))
    );
    let b = "return redis.call()";
    assert_eq!(
        eval(b).unwrap_err(),
        format!(
            "ERR Please specify at least one argument for this redis lib call script: {}, on @user_script:1.",
            sha(b)
        )
    );
    let b = "return redis.call('get',{})";
    assert_eq!(
        eval(b).unwrap_err(),
        format!(
            "ERR Lua redis lib command arguments must be strings or integers script: {}, on @user_script:1.",
            sha(b)
        )
    );
    let b = "return redis.setresp(4)";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR RESP version must be 2 or 3. script: {}, on @user_script:1.", sha(b))
    );
    let b = "redis.set_repl(99)";
    assert_eq!(
        eval(b).unwrap_err(),
        format!(
            "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE. script: {}, on @user_script:1.",
            sha(b)
        )
    );
    let b = "redis.log(99,'hello')";
    assert_eq!(eval(b).unwrap_err(), format!("ERR Invalid debug level. script: {}, on @user_script:1.", sha(b)));
    let b = "redis.log(1)";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR redis.log() requires two arguments or more. script: {}, on @user_script:1.", sha(b))
    );
    let b = "return redis.sha1hex()";
    assert_eq!(eval(b).unwrap_err(), format!("ERR wrong number of arguments script: {}, on @user_script:1.", sha(b)));
    let b = "#!lua\nerror('x')";
    assert_eq!(eval(b).unwrap_err(), format!("ERR user_script:2: x script: {}, on @user_script:2.", sha(b)));
}

#[test]
fn call_errors_and_pcall() {
    let mut h = TestHost::default();
    h.kv.insert(b"str".to_vec(), b"abc".to_vec());
    let mut e = |b: &str| eval_with(&mut h, b, &[], &[], false).map(|v| String::from_utf8_lossy(&v).into_owned());
    // redis 7.0.15
    let b = "return redis.call('incr','str')";
    assert_eq!(
        e(b).unwrap_err(),
        format!("ERR value is not an integer or out of range script: {}, on @user_script:1.", sha(b))
    );
    assert_eq!(e("return redis.pcall('incr','str')").unwrap_err(), "ERR value is not an integer or out of range");
    assert_eq!(
        e("local ok,e = pcall(redis.call,'incr','str'); return {type(e), e}").unwrap(),
        "*2\r\n$6\r\nstring\r\n$43\r\nERR value is not an integer or out of range\r\n"
    );
    assert_eq!(e("local ok,e = pcall(error,{err='x'}); return e").unwrap(), "$1\r\nx\r\n");
    assert_eq!(e("return pcall(redis.call,'incr','str')").unwrap(), "$-1\r\n");
    assert_eq!(e("local t = redis.pcall('incr','str'); t.err='X'; return t").unwrap_err(), "X");
    let b = "local e = redis.pcall('incr','str'); error(e)";
    assert_eq!(
        e(b).unwrap_err(),
        format!("ERR value is not an integer or out of range script: {}, on @user_script:1.", sha(b))
    );
    assert_eq!(
        e("return redis.pcall('incr','str')['err']").unwrap(),
        "$43\r\nERR value is not an integer or out of range\r\n"
    );
    assert_eq!(e("redis.set_repl(redis.REPL_ALL); return redis.replicate_commands()").unwrap(), ":1\r\n");
    assert_eq!(
        e("return {redis.REPL_ALL,redis.REPL_AOF,redis.REPL_SLAVE,redis.REPL_REPLICA,redis.REPL_NONE}").unwrap(),
        "*5\r\n:3\r\n:1\r\n:2\r\n:2\r\n:0\r\n"
    );
    assert_eq!(e("redis.log(redis.LOG_WARNING,'hello', 'x')").unwrap(), "$-1\r\n");
    assert_eq!(h.logs, vec![(LogLevel::Warning, "hello x".to_string())]);
}

#[test]
fn sandbox() {
    for g in [
        "os", "io", "loadfile", "dofile", "require", "debug", "print", "getfenv", "setfenv", "newproxy", "package",
        "module",
    ] {
        let b = format!("return {g}");
        assert_eq!(
            eval(&b).unwrap_err(),
            format!(
                "ERR user_script:1: Script attempted to access nonexistent global variable '{g}' script: {}, on @user_script:1.",
                sha(&b)
            )
        );
    }
    for g in ["loadstring", "collectgarbage", "coroutine", "bit", "unpack", "xpcall", "select"] {
        assert!(eval(&format!("return type({g})")).is_ok(), "{g}");
    }
    assert!(eval("string.upper = nil").is_err());
    assert!(eval("setmetatable(_G, nil)").is_err());
    assert!(eval("getmetatable(_G).__newindex = nil").is_err());
    // redis 7.0.15: the metatable of _G reads as an empty table; setmetatable fails without a position.
    assert_eq!(eval("return getmetatable(_G)").unwrap(), "*0\r\n");
    let b = "setmetatable(_G, nil)";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR Attempt to modify a readonly table script: {}, on @user_script:1.", sha(b))
    );
    let b = "string.upper = nil";
    assert_eq!(
        eval(b).unwrap_err(),
        format!("ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.", sha(b))
    );
    let b = "local f = loadstring('return x') return f()";
    assert_eq!(
        eval(b).unwrap_err(),
        format!(
            "ERR [string \"return x\"]:1: Script attempted to access nonexistent global variable 'x' script: {}, on return x:1.",
            sha(b)
        )
    );
    assert_eq!(eval("return loadstring(string.dump(function() end))").unwrap(), "$-1\r\n");
    assert_eq!(eval("return loadstring('return 7')()").unwrap(), ":7\r\n");
    assert_eq!(eval("local n = 0 for k in pairs(_G) do n = n + 1 end return n > 20").unwrap(), ":1\r\n");
    assert_eq!(eval("return rawget(_G, 'redis') ~= nil").unwrap(), ":1\r\n");
    // Per-thread VMs keep no state between runs.
    assert!(eval("KEYS = 1").is_err());
}

#[test]
fn shebang_flags() {
    // redis 7.0.15
    assert_eq!(
        parse_shebang(b"#!lua flags=bogus\nreturn 1").unwrap_err(),
        "ERR Unexpected flag in script shebang: bogus"
    );
    assert_eq!(parse_shebang(b"#!lua foo=bar\nreturn 1").unwrap_err(), "ERR Unknown lua shebang option: foo=bar");
    assert_eq!(parse_shebang(b"#!luax\nreturn 1").unwrap_err(), "ERR Unexpected engine in script shebang: #!luax");
    assert_eq!(parse_shebang(b"#!lua name=x\n").unwrap_err(), "ERR Unknown lua shebang option: name=x");
    assert_eq!(parse_shebang(b"#!lua").unwrap_err(), "ERR Invalid script shebang");
    let (f, _) =
        parse_shebang(b"#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\n").unwrap();
    assert!(f.shebang && f.no_writes && f.allow_oom && f.allow_stale && f.no_cluster && f.allow_cross_slot_keys);
    assert_eq!(
        parse_shebang(b"#!lua flags=\nreturn 1").unwrap().0,
        ScriptFlags { shebang: true, ..ScriptFlags::default() }
    );
    assert_eq!(eval("#!lua flags=no-writes,allow-oom\nreturn 1").unwrap(), ":1\r\n");
    // redis 7.0.15 (FCALL_RO of a function without no-writes)
    assert_eq!(
        parse_shebang(b"#!lua\n").unwrap().0.check_read_only().unwrap_err(),
        "ERR Can not execute a script with write flag using *_ro command."
    );
    assert!(parse_shebang(b"return 1").unwrap().0.check_read_only().is_ok());
}

#[test]
fn script_cache_and_evalsha() {
    let scripts = Scripts::new(3 * (SCRIPT_OVERHEAD + 10));
    let mut h = TestHost::default();
    let ctl = RunControl::default();
    let mut out = Reply::default();
    assert_eq!(run(&scripts, ScriptRef::Sha("abcd"), &[], &[], &mut h, &ctl, &mut out).unwrap_err(), NOSCRIPT);
    // redis 7.0.15: SCRIPT LOAD of a body that does not compile.
    assert_eq!(
        load_script(&scripts, b"return 1 +").unwrap_err(),
        "ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"
    );
    assert_eq!(load_script(&scripts, b"return 1+0").unwrap(), sha("return 1+0"));
    let s = scripts.load(b"return 1+0", false).unwrap();
    assert_eq!(s.sha, sha("return 1+0"));
    run(&scripts, ScriptRef::Sha(&s.sha.to_uppercase()), &[], &[], &mut h, &ctl, &mut out).unwrap();
    assert_eq!(&out.buf[..], b":1\r\n");
    // EVAL caches; when full, the least recently used EVAL script goes, SCRIPT LOAD ones stay.
    run(&scripts, ScriptRef::Body(b"return 2+0"), &[], &[], &mut h, &ctl, &mut out).unwrap();
    run(&scripts, ScriptRef::Body(b"return 3+0"), &[], &[], &mut h, &ctl, &mut out).unwrap();
    assert_eq!(scripts.len(), 3);
    assert_eq!(scripts.memory(), 3 * (SCRIPT_OVERHEAD + 10));
    assert!(scripts.get(&sha("return 2+0")).is_some()); // touch: 3 is now the oldest
    run(&scripts, ScriptRef::Body(b"return 4+0"), &[], &[], &mut h, &ctl, &mut out).unwrap();
    assert!(scripts.exists(&s.sha) && scripts.exists(&sha("return 2+0")) && scripts.exists(&sha("return 4+0")));
    assert!(!scripts.exists(&sha("return 3+0")));
    assert_eq!(scripts.load(b"return 5+0", false).unwrap().sha, sha("return 5+0"));
    assert_eq!(scripts.load(b"return 6+0", false).unwrap().sha, sha("return 6+0"));
    assert_eq!(scripts.load(b"return 7+0", false).unwrap_err(), "ERR script cache is full");
    // A body that does not compile is not cached.
    assert!(run(&scripts, ScriptRef::Body(b"return +"), &[], &[], &mut h, &ctl, &mut out).is_err());
    assert!(!scripts.exists(&sha("return +")));
    scripts.flush();
    assert!(scripts.is_empty() && scripts.memory() == 0);
}

#[test]
fn kill_flag_and_busy_callback() {
    let scripts = Scripts::new(1 << 20);
    let busy = Arc::new(AtomicUsize::new(0));
    let kill = Arc::new(AtomicBool::new(false));
    let (b, k) = (busy.clone(), kill.clone());
    let ctl = RunControl {
        kill: kill.clone(),
        busy_after: Duration::ZERO,
        on_busy: Some(Arc::new(move || {
            b.fetch_add(1, Ordering::SeqCst);
            k.store(true, Ordering::SeqCst); // SCRIPT KILL as soon as the server turns busy
        })),
    };
    let mut out = Reply::default();
    let body = "local x = 1\nwhile true do x = x + 1 end";
    let err = run(&scripts, ScriptRef::Body(body.as_bytes()), &[], &[], &mut TestHost::default(), &ctl, &mut out)
        .unwrap_err();
    // redis 7.0.15
    assert_eq!(err, format!("ERR Script killed by user with SCRIPT KILL... script: {}, on @user_script:2.", sha(body)));
    assert_eq!(busy.load(Ordering::SeqCst), 1);
    // pcall, xpcall and coroutines cannot swallow the kill.
    for body in [
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function() end) end",
        "while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
    ] {
        kill.store(true, Ordering::SeqCst);
        let err = run(&scripts, ScriptRef::Body(body.as_bytes()), &[], &[], &mut TestHost::default(), &ctl, &mut out)
            .unwrap_err();
        assert!(err.starts_with("ERR Script killed by user with SCRIPT KILL... script: "), "{body}: {err}");
    }
    kill.store(false, Ordering::SeqCst);
    // The VM is usable after a kill.
    run(&scripts, ScriptRef::Body(b"return 5"), &[], &[], &mut TestHost::default(), &RunControl::default(), &mut out)
        .unwrap();
    assert!(out.buf.ends_with(b":5\r\n"));
}

#[test]
fn functions_load_call_list_dump_restore() {
    let f = Functions::new();
    let code = "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return keys[1] end)\nredis.register_function{function_name='f2', callback=function(k,a) error('boom') end, flags={'no-writes'}, description='d'}";
    assert_eq!(f.load(code.as_bytes(), false).unwrap(), "lib1");
    let mut h = TestHost::default();
    let ctl = RunControl::default();
    let mut out = Reply::default();
    run_function(&f, "f1", &[Bytes::from_static(b"kk")], &[], &mut h, &ctl, &mut out).unwrap();
    assert_eq!(&out.buf[..], b"$2\r\nkk\r\n");
    // redis 7.0.15
    assert_eq!(
        run_function(&f, "f2", &[], &[], &mut h, &ctl, &mut out).unwrap_err(),
        "ERR user_function:3: boom script: f2, on @user_function:3."
    );
    assert_eq!(run_function(&f, "nosuch", &[], &[], &mut h, &ctl, &mut out).unwrap_err(), "ERR Function not found");
    assert!(f.get("f2").unwrap().1.flags.no_writes);
    assert_eq!(
        f.load(b"#!lua name=lib1\nredis.register_function('f1', function() end)", false).unwrap_err(),
        "ERR Library 'lib1' already exists"
    );
    assert_eq!(
        f.load(b"#!lua name=lib2\nredis.register_function('f1', function() end)", false).unwrap_err(),
        "ERR Function f1 already exists"
    );
    assert_eq!(f.load(b"return 1", false).unwrap_err(), "ERR Missing library metadata");
    assert_eq!(f.load(b"#!lua name=lib3\nreturn 1", false).unwrap_err(), "ERR No functions registered");
    assert_eq!(
        f.load(b"#!lua name=lib3\nredis.call('ping')", false).unwrap_err(),
        "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"
    );
    assert_eq!(
        f.load(b"#!lua name=lib3\nredis.register_function('x', function() end, 1)", false).unwrap_err(),
        "ERR Error registering functions: ERR wrong number of arguments to redis.register_function"
    );
    assert_eq!(
        f.load(
            b"#!lua name=lib3\nredis.register_function{function_name='x', callback=function() end, flags={'bad'}}",
            false
        )
        .unwrap_err(),
        "ERR Error registering functions: ERR unknown flag given"
    );
    assert_eq!(
        f.load(b"#!lua name=lib3\nredis.register_function{function_name='x', callback=function() end, foo=1}", false)
            .unwrap_err(),
        "ERR Error registering functions: ERR unknown argument given to redis.register_function"
    );
    assert_eq!(
        f.load(b"#!lua name=lib3\nredis.register_function('x', 1)", false).unwrap_err(),
        "ERR Error registering functions: ERR second argument to redis.register_function must be a function"
    );
    assert_eq!(f.load(b"#!lua name=lib3 foo=1\n", false).unwrap_err(), "ERR Invalid metadata value given: foo=1");
    assert_eq!(f.load(b"#!lua\n", false).unwrap_err(), "ERR Library name was not given");
    assert_eq!(
        f.load(b"#!lua name=lib3\nx = 1", false).unwrap_err(),
        "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"
    );
    assert_eq!(
        f.load(b"#!lua name=lib3\nlocal x = string", false).unwrap_err(),
        "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'string'"
    );
    assert_eq!(f.load(b"#!lua name=lib3\nredis.register_function('x', function() end)\nredis.register_function('x', function() end)", false).unwrap_err(), "ERR Error registering functions: ERR Function already exists in the library");
    assert_eq!(
        f.load(b"#!lua name=lib3\nreturn 1 +", false).unwrap_err(),
        "ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'"
    );
    // redis 7.0.15 (after its 500 ms load limit; this assertion takes that long)
    assert_eq!(
        f.load(b"#!lua name=lib3\nwhile true do end", false).unwrap_err(),
        "ERR Error registering functions: ERR FUNCTION LOAD timeout"
    );
    // At run time a function sees the full globals and redis object; library locals persist (per thread).
    f.load(b"#!lua name=lib4\nlocal n = 0\nredis.register_function('x', function(k, a) n = n + 1; return {n, string.rep('a', 2), type(redis.setresp), type(redis.register_function), #k, #a} end)", false).unwrap();
    let mut out = Reply::default();
    run_function(
        &f,
        "x",
        &[Bytes::from_static(b"k1")],
        &[Bytes::from_static(b"a1"), Bytes::from_static(b"a2")],
        &mut h,
        &ctl,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.buf),
        "*6\r\n:1\r\n$2\r\naa\r\n$8\r\nfunction\r\n$3\r\nnil\r\n:1\r\n:2\r\n"
    );

    // LIST (redis 7.0.15 shape)
    let mut out = Reply::default();
    f.list(Some(b"lib1"), false, &mut out);
    assert_eq!(
        String::from_utf8_lossy(&out.buf),
        "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$4\r\nlib1\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*2\r\n*6\r\n$4\r\nname\r\n$2\r\nf1\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n*6\r\n$4\r\nname\r\n$2\r\nf2\r\n$11\r\ndescription\r\n$1\r\nd\r\n$5\r\nflags\r\n*1\r\n+no-writes\r\n"
    );
    let mut out = Reply::default();
    f.stats(None, &mut out);
    assert_eq!(
        String::from_utf8_lossy(&out.buf),
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:3\r\n"
    );

    // DUMP / RESTORE round trip.
    let dump = f.dump();
    let g = Functions::new();
    g.restore(&dump, RestorePolicy::Append).unwrap();
    assert_eq!(g.counts(), (2, 3));
    assert_eq!(g.dump(), dump);
    assert_eq!(g.restore(&dump, RestorePolicy::Append).unwrap_err(), "ERR Library lib1 already exists");
    g.restore(&dump, RestorePolicy::Replace).unwrap();
    g.restore(&dump, RestorePolicy::Flush).unwrap();
    assert_eq!(g.restore(b"abc", RestorePolicy::Append).unwrap_err(), "ERR DUMP payload version or checksum are wrong");
    assert_eq!(g.delete("nosuch").unwrap_err(), "ERR Library not found");
    g.delete("lib1").unwrap();
    assert!(g.get("f1").is_none());
    g.flush();
    assert_eq!(g.counts(), (0, 0));
}

#[test]
fn restore_redis_lzf_dump() {
    // FUNCTION DUMP from redis-server 7.0.15 after loading lib3 (LZF-compressed code).
    let payload: &[u8] = b"\xf5\xc3@\x91@\xb2\x1f#!lua name=lib3\nlocal n = 0\nredi\x18s.register_function('x', \xe0\x00\r\x04k, a)`1\x17n + 1; return {n, string B\x03p('a 4\x082), type(\x80Z\x06setresp\xe0\x05\x14\xe0\x08o \x1e\x00# d\x07#a} end)\n\x00\xf6\xacsw{l\xfd\xab";
    let f = Functions::new();
    f.restore(payload, RestorePolicy::Append).unwrap();
    assert_eq!(f.dump(), payload, "our DUMP equals redis-server's");
    let (lib, _) = f.get("x").unwrap();
    assert_eq!(&lib.code[..], &b"#!lua name=lib3\nlocal n = 0\nredis.register_function('x', function(k, a) n = n + 1; return {n, string.rep('a', 2), type(redis.setresp), type(redis.register_function), #k, #a} end)"[..]);
}

#[test]
fn cjson() {
    // redis 7.0.15
    assert_eq!(
        eval("return cjson.encode({1,2,'a/b',true,{x=0.1}, 1/3, 1e20, -0.0, 100})").unwrap(),
        "$57\r\n[1,2,\"a\\/b\",true,{\"x\":0.1},0.33333333333333,1e+20,-0,100]\r\n"
    );
    assert_eq!(eval("return cjson.encode({})").unwrap(), "$2\r\n{}\r\n");
    assert_eq!(eval("return cjson.encode({[1]=1,[3]=3})").unwrap(), "$10\r\n[1,null,3]\r\n");
    assert_eq!(eval("return cjson.encode({[1.5]=1})").unwrap(), "$9\r\n{\"1.5\":1}\r\n");
    assert_eq!(eval("return cjson.encode(12345678901234567)").unwrap(), "$19\r\n1.2345678901235e+16\r\n");
    assert_eq!(eval("return cjson.encode({a={b={c={}}}})").unwrap(), "$20\r\n{\"a\":{\"b\":{\"c\":{}}}}\r\n");
    assert_eq!(
        eval("return cjson.encode(cjson.decode('{\"a\":1,\"b\":2,\"c\":3}'))").unwrap(),
        "$19\r\n{\"a\":1,\"c\":3,\"b\":2}\r\n"
    );
    assert_eq!(eval("return cjson.decode('[1,2]')[2]").unwrap(), ":2\r\n");
    assert_eq!(
        eval("local t = cjson.decode('{\"a\":[1,2.5,null,\"x\\\\u00e9\\\\n\"],\"b\":null}'); return {t.a[1], tostring(t.a[2]), tostring(t.a[3] == cjson.null), t.a[4], type(t.b), type(cjson.null)}").unwrap(),
        "*6\r\n:1\r\n$3\r\n2.5\r\n$4\r\ntrue\r\n$4\r\nx\u{e9}\n\r\n$8\r\nuserdata\r\n$8\r\nuserdata\r\n"
    );
    for (body, msg) in [
        ("return cjson.encode({[1]=1,[20]=3})", "Cannot serialise table: excessively sparse array"),
        ("return cjson.encode(1/0)", "Cannot serialise number: must not be NaN or Inf"),
        ("return cjson.encode(function() end)", "Cannot serialise function: type not supported"),
        ("return cjson.encode({[true]=1})", "Cannot serialise boolean: table key must be a number or string"),
        ("return cjson.decode('x')", "Expected value but found invalid token at character 1"),
        ("return cjson.decode('[1,2')", "Expected comma or array end but found T_END at character 5"),
        ("return cjson.decode('[1] x')", "Expected the end but found invalid token at character 5"),
        ("return cjson.decode('{\"a\":}')", "Expected value but found T_OBJ_END at character 6"),
        ("return cjson.decode('')", "Expected value but found T_END at character 1"),
        ("return cjson.decode('\"abc')", "Expected value but found unexpected end of string at character 5"),
    ] {
        assert_eq!(
            eval(body).unwrap_err(),
            format!("ERR user_script:1: {msg} script: {}, on @user_script:1.", sha(body))
        );
    }
    assert_eq!(
        eval("local ok, e = pcall(cjson.decode, 'x') return e").unwrap(),
        "$53\r\nExpected value but found invalid token at character 1\r\n"
    );
}

#[test]
fn bit() {
    assert_eq!(eval("return {bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.bnot(0), bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4), bit.bxor(3, 1)}").unwrap(), "*6\r\n:-1\r\n:5\r\n:-1\r\n:3\r\n:7\r\n:2\r\n");
    assert_eq!(eval("return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678)}").unwrap(), "*6\r\n:-2147483648\r\n:15\r\n:-16\r\n:878082066\r\n:2014458966\r\n:2018915346\r\n");
    assert_eq!(
        eval("return {bit.tohex(255), bit.tohex(-1, -4), bit.tohex(0x1234, 2)}").unwrap(),
        "*3\r\n$8\r\n000000ff\r\n$4\r\nFFFF\r\n$2\r\n34\r\n"
    );
}

#[test]
fn struct_lib() {
    // redis 7.0.15
    let b = |s: &str| eval_with(&mut TestHost::default(), s, &[], &[], false).unwrap();
    assert_eq!(
        b(
            "return {struct.pack('>I2', 258), struct.pack('<i4bc0', -2, 7, 'ab'), struct.size('i4d'), struct.size('!8 b d'), struct.unpack('>I2', 'AB')}"
        ),
        b"*6\r\n$2\r\n\x01\x02\r\n$7\r\n\xfe\xff\xff\xff\x07ab\r\n:12\r\n:16\r\n:16706\r\n:3\r\n"
    );
    assert_eq!(
        b("return {struct.unpack('<b c0 h', struct.pack('<b c0 h', 2, 'xy', -3))}"),
        b"*3\r\n$2\r\nxy\r\n:-3\r\n:6\r\n"
    );
    assert_eq!(
        b(
            "return struct.pack('s', 'x') .. struct.pack('<f', 1.5) .. struct.pack('<!4 b i', 1, 2) .. struct.pack('>d', 0.5)"
        ),
        b"$22\r\nx\x00\x00\x00\xc0?\x01\x00\x00\x00\x02\x00\x00\x00?\xe0\x00\x00\x00\x00\x00\x00\r\n"
    );
    assert_eq!(b("return {struct.unpack('<s', 'ab\\0c')}"), b"*2\r\n$2\r\nab\r\n:4\r\n");
    assert_eq!(b("return {struct.unpack('>i3', '\\173\\173\\172')}"), b"*2\r\n:-5395028\r\n:4\r\n");
    assert_eq!(b("return {struct.unpack('<i4', struct.pack('<i4', -5))}"), b"*2\r\n:-5\r\n:5\r\n");
    for (body, msg) in [
        ("return struct.pack('<i4bc0s', -2, 7, 'ab')", "bad argument #5 to 'pack' (string expected, got nil)"),
        ("return struct.pack('z', 'ab')", "bad argument #1 to 'pack' (invalid format option 'z')"),
        ("return struct.unpack('i4', 'ab')", "bad argument #2 to 'unpack' (data string too short)"),
        ("return struct.size('s')", "bad argument #1 to 'size' (option 's' has no fixed size)"),
        ("return struct.pack('c3', 'ab')", "bad argument #3 to 'pack' (string too short)"),
    ] {
        assert_eq!(
            eval(body).unwrap_err(),
            format!("ERR user_script:1: {msg} script: {}, on @user_script:1.", sha(body))
        );
    }
}

#[test]
fn cmsgpack_lib() {
    // redis 7.0.15
    let b = |s: &str| eval_with(&mut TestHost::default(), s, &[], &[], false).unwrap();
    assert_eq!(
        b("return cmsgpack.pack({1,2,'a'}, {a=1}, 1.5, -1, 300, true, nil)"),
        b"$20\r\n\x93\x01\x02\xa1a\x81\xa1a\x01\xca?\xc0\x00\x00\xff\xcd\x01,\xc3\xc0\r\n"
    );
    assert_eq!(b("return cmsgpack.pack(-200, 70000, 5000000000, -5000000000, 0.1, string.rep('a', 40))"), b"$77\r\n\xd1\xff8\xce\x00\x01\x11p\xcf\x00\x00\x00\x01*\x05\xf2\x00\xd3\xff\xff\xff\xfe\xd5\xfa\x0e\x00\xcb?\xb9\x99\x99\x99\x99\x99\x9a\xd9(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    assert_eq!(b("return {cmsgpack.unpack(cmsgpack.pack({1,{x='y'}}, 5))}"), b"*2\r\n*2\r\n:1\r\n*0\r\n:5\r\n");
    assert_eq!(b("local t = cmsgpack.unpack(cmsgpack.pack({x='y'})) return t.x"), b"$1\r\ny\r\n");
    assert_eq!(b("return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3))}"), b"*2\r\n:1\r\n:1\r\n");
    assert_eq!(b("return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)}"), b"*3\r\n:2\r\n:1\r\n:2\r\n");
    assert_eq!(b("return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2)}"), b"*2\r\n:-1\r\n:3\r\n");
    assert_eq!(b("return {cmsgpack.unpack('')}"), b"*0\r\n");
    let body = "return cmsgpack.pack()";
    assert_eq!(
        eval(body).unwrap_err(),
        format!(
            "ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.) script: {}, on @user_script:1.",
            sha(body)
        )
    );
    let body = "return cmsgpack.unpack('\\193')";
    assert_eq!(
        eval(body).unwrap_err(),
        format!("ERR user_script:1: Bad data format in input. script: {}, on @user_script:1.", sha(body))
    );
}

#[test]
fn dump_equals_redis() {
    // redis 7.0.15: FUNCTION LOAD of this library, then FUNCTION DUMP.
    let f = Functions::new();
    f.load(b"#!lua name=lib1\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={'no-writes'}}", false).unwrap();
    let redis: &[u8] = b"\xf5\xc3@i@r\x1f#!lua name=lib1\nredis.register_f\x07unction{\xc0\x08\x00_`*\x0e'f1', callback=\xc0\x1c\x1f() return 1 end, flags={'no-writ\x04es'}}\n\x00\x14\x1d\x92\xb1\\\xe9\x81\x94";
    assert_eq!(f.dump(), redis);
    assert_eq!(
        f.load(b"#!lua name=lib2 name=lib3\n", false).unwrap_err(),
        "ERR Invalid metadata value, name argument was given multiple times"
    );
    assert_eq!(f.load(b"#!js name=lib1\n", false).unwrap_err(), "ERR Engine 'js' not found");
    assert_eq!(f.load(b"#!lua name=lib1", false).unwrap_err(), "ERR Invalid library metadata");
}

#[test]
fn shared_caches_are_send_sync_and_vms_run_in_parallel() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scripts>();
    assert_send_sync::<Functions>();
    let scripts = Arc::new(Scripts::new(1 << 20));
    let functions = Arc::new(Functions::new());
    functions
        .load(b"#!lua name=l\nredis.register_function('inc', function(k) return redis.call('incr', k[1]) end)", false)
        .unwrap();
    let sha = scripts.load(b"return redis.call('incr', KEYS[1])", false).unwrap().sha.clone();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (scripts, functions, sha) = (scripts.clone(), functions.clone(), sha.clone());
            std::thread::spawn(move || {
                let mut h = TestHost::default();
                let key = [Bytes::from(format!("k{t}"))];
                let mut out = Reply::default();
                for _ in 0..100 {
                    run(&scripts, ScriptRef::Sha(&sha), &key, &[], &mut h, &RunControl::default(), &mut out).unwrap();
                    run_function(&functions, "inc", &key, &[], &mut h, &RunControl::default(), &mut out).unwrap();
                }
                h.kv[format!("k{t}").as_bytes()].clone()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), b"200");
    }
    // A replaced library is reloaded by every VM on its next call.
    functions.load(b"#!lua name=l\nredis.register_function('inc', function(k) return 'v2' end)", true).unwrap();
    let mut out = Reply::default();
    run_function(&functions, "inc", &[], &[], &mut TestHost::default(), &RunControl::default(), &mut out).unwrap();
    assert_eq!(&out.buf[..], b"$2\r\nv2\r\n");
}

/// A host whose every command replies with the same bytes.
#[derive(Debug)]
struct Echo(Bytes);

impl Host for Echo {
    fn call(&mut self, _: &[Bytes], _: bool) -> Bytes {
        self.0.clone()
    }
    fn log(&mut self, _: LogLevel, _: &str) {}
}

fn resp2_value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        // Lua 5.1 numbers are doubles: integers past 2^53 lose precision, in Redis too.
        (-(1i64 << 53)..(1i64 << 53)).prop_map(|n| format!(":{n}\r\n").into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| {
            let mut v = format!("${}\r\n", b.len()).into_bytes();
            v.extend_from_slice(&b);
            v.extend_from_slice(b"\r\n");
            v
        }),
        Just(b"$-1\r\n".to_vec()),
        "[a-zA-Z ]{0,10}".prop_map(|s| format!("+{s}\r\n").into_bytes()),
        "[A-Z]{1,5} [a-z ]{0,10}".prop_map(|s| format!("-{s}\r\n").into_bytes()),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        proptest::collection::vec(inner, 0..6).prop_map(|items| {
            let mut v = format!("*{}\r\n", items.len()).into_bytes();
            for i in items {
                v.extend_from_slice(&i);
            }
            v
        })
    })
}

proptest::proptest! {
    /// RESP2 → Lua (redis.pcall) → RESP2 is the identity, as in Redis (integers stay integers,
    /// nil bulks become false and back, status and error tables round-trip).
    #[test]
    fn resp2_round_trips_through_lua(reply in resp2_value()) {
        let scripts = Scripts::new(1 << 20);
        let mut host = Echo(Bytes::from(reply.clone()));
        let mut out = Reply::default();
        let r = run(&scripts, ScriptRef::Body(b"return redis.pcall('x')"), &[], &[], &mut host, &RunControl::default(), &mut out);
        match r {
            Ok(()) => proptest::prop_assert_eq!(&out.buf[..], &reply[..]),
            Err(e) => proptest::prop_assert_eq!(format!("-{e}\r\n").into_bytes(), reply),
        }
    }
}
