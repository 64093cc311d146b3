-- The sandbox and the `redis` object's Lua half, run once per VM (chunk "=[redis]").
-- Arguments: B (the real globals), api (Rust helpers), R (the real `redis` table), cur (per-run state).
-- Error texts are Redis 7.0.15's.
local B, api, R, cur = ...
local rawpcall, rawxpcall, rawset_, rawget_, rawnext, rawtype = pcall, xpcall, rawset, rawget, next, type
local rawerror, rawsetmt, rawtostring, rawselect = error, setmetatable, tostring, select
local rawloadstring, rawresume, concat = loadstring, coroutine.resume, table.concat
local rawsetfenv = setfenv
local killed, errmsg, where, errtab = api.killed, api.errmsg, api.where, api.errtab

local ro = rawsetmt({}, {__mode = 'k'})
local function ro_newindex() rawerror('Attempt to modify a readonly table', 2) end
-- What getmetatable returns for a read-only view: an empty read-only table (Redis returns the
-- table's real, read-only metatable; scripts can neither change nor use either).
local hidden_mt = rawsetmt({}, {__newindex = ro_newindex, __metatable = false})
ro[hidden_mt] = {}
local function protect(t)
  local p = rawsetmt({}, {__index = t, __newindex = ro_newindex, __metatable = hidden_mt})
  ro[p] = t
  return p
end
local function real(t) return ro[t] or t end

local function raise(msg) rawerror({err = 'ERR ' .. msg}, 0) end

-- The error handler of every run: a table {err=, source=, line=} for Rust to format.
local function handler(err)
  if rawtype(err) == 'userdata' then err = errmsg(err, true) end
  if rawtype(err) ~= 'table' then err = {err = 'ERR ' .. rawtostring(err)} end
  local src, line = where()
  if src then err.source = src; err.line = line end
  return err
end

function cur.run(f, keys, args)
  if keys == nil then return rawxpcall(f, handler) end
  return rawxpcall(function() return f(keys, args) end, handler)
end

-- pcall returns the message of an error table (Redis's luaRedisPcall); kills pass through.
local function pfix(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if killed() then rawerror(api.KILLED, 0) end
  if rawtype(e) == 'userdata' then e = errmsg(e, false) end
  if rawtype(e) == 'table' then
    local s = rawget_(e, 'err')
    if rawtype(s) == 'string' then e = s end
  end
  return false, e
end
local function xfix(ok, ...)
  if not ok and killed() then rawerror(api.KILLED, 0) end
  return ok, ...
end
B.pcall = function(...) return pfix(rawpcall(...)) end
B.xpcall = function(f, h) return xfix(rawxpcall(f, h)) end
local co = {}
for k, v in rawnext, B.coroutine do co[k] = v end
co.resume = function(...) return xfix(rawresume(...)) end
co.create = api.newthread
local function wrapret(ok, ...)
  if not ok then
    if killed() then rawerror(api.KILLED, 0) end
    rawerror((...), 0)
  end
  return ...
end
co.wrap = function(f)
  local th = api.newthread(f)
  return function(...) return wrapret(rawresume(th, ...)) end
end

B.rawset = function(t, k, v)
  if ro[t] then rawerror('Attempt to modify a readonly table', 0) end
  return rawset_(t, k, v)
end
B.rawget = function(t, k) return rawget_(real(t), k) end
local function next_(t, k) return rawnext(real(t), k) end
B.next = next_
B.pairs = function(t) return next_, t, nil end
B.ipairs = function(t)
  local r = real(t)
  return function(_, i)
    i = i + 1
    local v = rawget_(r, i)
    if v ~= nil then return i, v end
  end, t, 0
end
local rawsetmetatable = B.setmetatable
B.setmetatable = function(t, mt)
  if ro[t] then rawerror('Attempt to modify a readonly table', 0) end
  return rawsetmetatable(t, mt)
end
-- Source only: binary chunks could crash the VM.
local function source_only(s, name)
  if rawtype(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
  return rawloadstring(s, name)
end
B.loadstring = source_only
B.load = function(f, name)
  if rawtype(f) == 'string' then return source_only(f, name) end
  local parts = {}
  while true do
    local p = f()
    if p == nil or p == '' then break end
    parts[#parts + 1] = p
  end
  return source_only(concat(parts), name)
end

-- The redis object.
R.error_reply = function(...)
  local e = ...
  if rawselect('#', ...) ~= 1 or rawtype(e) ~= 'string' then return errtab('wrong number or type of arguments') end
  if e:byte(1) ~= 45 then e = '-' .. e end
  return errtab(e)
end
R.status_reply = function(...)
  local s = ...
  if rawselect('#', ...) ~= 1 or rawtype(s) ~= 'string' then return errtab('wrong number or type of arguments') end
  return {ok = s}
end
R.replicate_commands = function() return true end
R.breakpoint = function() return false end
R.debug = function() end
R.LOG_DEBUG, R.LOG_VERBOSE, R.LOG_NOTICE, R.LOG_WARNING = 0, 1, 2, 3
R.REPL_NONE, R.REPL_AOF, R.REPL_SLAVE, R.REPL_REPLICA, R.REPL_ALL = 0, 1, 2, 2, 3

-- Read-only views of the libraries and of the globals.
B.redis = protect(R)
for _, name in rawnext, {'string', 'table', 'math', 'cjson', 'bit', 'struct', 'cmsgpack'} do
  if B[name] then B[name] = protect(B[name]) end
end
B.coroutine = protect(co)
for _, name in rawnext, {'print', 'getfenv', 'setfenv', 'newproxy', 'loadfile', 'dofile', 'require', 'module',
                          'package', 'debug', 'os', 'io'} do
  B[name] = nil
end
local G = protect(B)
B._G = G
rawsetmetatable(B, {__index = function(_, k)
  rawerror("Script attempted to access nonexistent global variable '" .. rawtostring(k) .. "'", 2)
end})

-- FUNCTION LOAD: the library body sees only a small `redis` (register_function, log, versions);
-- once loaded, its functions see the full globals.
local known_flags = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
                     ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}
local function valid_name(n)
  return rawtype(n) == 'string' and #n > 0 and not n:find('[^%w_]')
end
local function register(...)
  local regs = cur.regs
  if not regs then raise('redis.register_function can only be called on FUNCTION LOAD command') end
  local argc = rawselect('#', ...)
  local name, cb, flags, desc
  if argc == 1 then
    local t = ...
    if rawtype(t) ~= 'table' then raise('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).') end
    for k, v in rawnext, t do
      if k == 'function_name' then name = v
      elseif k == 'callback' then cb = v
      elseif k == 'flags' then
        if rawtype(v) ~= 'table' then raise('flags argument to redis.register_function must be a table representing function flags') end
        flags = v
      elseif k == 'description' then desc = v
      else raise('unknown argument given to redis.register_function') end
    end
    if name == nil then raise('redis.register_function must get a function name argument') end
    if cb == nil then raise('redis.register_function must get a callback argument') end
  elseif argc == 2 then
    name, cb = ...
    if rawtype(name) ~= 'string' then raise('first argument to redis.register_function must be a string') end
  else
    raise('wrong number of arguments to redis.register_function')
  end
  if rawtype(cb) ~= 'function' then raise('second argument to redis.register_function must be a function') end
  if not valid_name(name) then
    raise('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
  end
  local fl = {}
  if flags then
    for _, f in rawnext, flags do
      if rawtype(f) ~= 'string' or not known_flags[f] then raise('unknown flag given') end
      fl[#fl + 1] = f
    end
  end
  if desc ~= nil and rawtype(desc) ~= 'string' then raise('description argument given to redis.register_function must be a string') end
  if regs[name] then raise('Function already exists in the library') end
  regs[name] = {callback = cb, flags = fl, description = desc}
end
local LR = {register_function = register, log = R.log, REDIS_VERSION = R.REDIS_VERSION,
            REDIS_VERSION_NUM = R.REDIS_VERSION_NUM, LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3}
local LRP = rawsetmt({}, {__newindex = ro_newindex, __metatable = hidden_mt, __index = function(_, k)
  local v = LR[k]
  if v == nil then rawerror("Script attempted to access nonexistent global variable '" .. rawtostring(k) .. "'", 2) end
  return v
end})
ro[LRP] = LR
function cur.load_lib(chunk)
  local env = {}
  local mt = {__newindex = ro_newindex, __metatable = hidden_mt}
  mt.__index = function(_, k)
    if k == 'redis' then return LRP end
    rawerror("Script attempted to access nonexistent global variable '" .. rawtostring(k) .. "'", 2)
  end
  rawsetmt(env, mt)
  ro[env] = LR
  rawsetfenv(chunk, env)
  local regs = {}
  cur.regs = regs
  local ok, err = rawxpcall(chunk, handler)
  cur.regs = nil
  mt.__index = G
  ro[env] = B
  if not ok then return false, err end
  return true, regs
end
return G
