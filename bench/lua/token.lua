-- wrk script for the token endpoint: POST /oauth2/token (the URL given to wrk),
-- grant_type=client_credentials, client_secret_basic. Expects 200 for every response.
-- BENCH_BASIC: base64("client_id:client_secret") of the benchmark client (set by run.sh).
dofile(os.getenv("BENCH_LUA_DIR") .. "/count.lua")

local basic = os.getenv("BENCH_BASIC")
if basic == nil or basic == "" then
   error("BENCH_BASIC is not set")
end

wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Basic " .. basic
