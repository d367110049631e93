-- wrk script for the refresh grant with rotation: every response carries a new refresh
-- token, which replaces the spent one in this thread's pool. The pool comes from
-- BENCH_REFRESH_FILE (one token per line), split between the threads; each connection
-- has at most one request outstanding, so a pool larger than the connections per thread
-- never runs dry. Expects 200 for every response.
dofile(os.getenv("BENCH_LUA_DIR") .. "/count.lua")

local count_setup, count_response = setup, response
local nthreads = 0

function setup(thread)
   thread:set("index", nthreads)
   nthreads = nthreads + 1
   count_setup(thread)
end

local basic = os.getenv("BENCH_WEB_BASIC")
local pool = {}

function init(args)
   local threads = tonumber(os.getenv("BENCH_THREADS"))
   local i = 0
   for line in io.lines(os.getenv("BENCH_REFRESH_FILE")) do
      if line ~= "" and i % threads == index then
         table.insert(pool, line)
      end
      i = i + 1
   end
   if #pool == 0 then
      error("no refresh tokens for thread " .. tostring(index))
   end
end

function request()
   local token = table.remove(pool)
   if token == nil then
      error("the refresh token pool ran dry: give more families")
   end
   return wrk.format("POST", nil, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = "Basic " .. basic,
   }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
   count_response(status, headers, body)
   local next_token = string.match(body or "", '"refresh_token":"([^"]+)"')
   if next_token then
      table.insert(pool, next_token)
   end
end
