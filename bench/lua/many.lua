-- wrk script for the token endpoint over many distinct clients: every request is
-- client_credentials with the Basic credentials of a client picked at random from
-- BENCH_MANY_FILE (one base64 "id:secret" per line). Expects 200 for every response.
dofile(os.getenv("BENCH_LUA_DIR") .. "/count.lua")

local creds = {}

function init(args)
   for line in io.lines(os.getenv("BENCH_MANY_FILE")) do
      if line ~= "" then
         table.insert(creds, line)
      end
   end
   if #creds == 0 then
      error("no credentials in BENCH_MANY_FILE")
   end
   math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
   return wrk.format("POST", nil, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Accept"] = "application/json",
      ["Authorization"] = "Basic " .. creds[math.random(#creds)],
   }, "grant_type=client_credentials")
end
