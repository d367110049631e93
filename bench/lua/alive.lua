-- wrk script for the baseline: GET /health/alive (the URL given to wrk), expecting 200.
dofile(os.getenv("BENCH_LUA_DIR") .. "/count.lua")
wrk.method = "GET"
