-- wrk script for introspection: POST /oauth2/introspect with one active access token
-- (BENCH_AT), the benchmark client authenticating with client_secret_basic. Expects 200.
dofile(os.getenv("BENCH_LUA_DIR") .. "/count.lua")

local basic, at = os.getenv("BENCH_BASIC"), os.getenv("BENCH_AT")
if not basic or basic == "" or not at or at == "" then
   error("BENCH_BASIC and BENCH_AT must be set")
end

wrk.method = "POST"
wrk.body = "token=" .. at
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. basic
