-- Shared by the wrk scripts of bench/run.sh: counts responses whose status is not the
-- expected one (200) and prints one machine-readable "BENCH ..." line in done().
--
-- wrk runs this file in one Lua state per thread plus the main one: response() runs in
-- the threads, setup() and done() in the main state, which reads the threads' globals.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

-- Globals (not locals): done() reads them from each thread with thread:get().
unexpected = 0
first_unexpected = ""

function response(status, headers, body)
   if status ~= 200 then
      unexpected = unexpected + 1
      if first_unexpected == "" then
         first_unexpected = tostring(status) .. " " .. string.sub(tostring(body or ""), 1, 200)
      end
   end
end

function done(summary, latency, requests)
   local bad, sample = 0, ""
   for _, t in ipairs(threads) do
      bad = bad + (t:get("unexpected") or 0)
      local s = t:get("first_unexpected")
      if sample == "" and s and s ~= "" then sample = s end
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH requests=%d duration_s=%.3f rps=%.1f mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d"
      .. " unexpected=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, secs, summary.requests / secs, latency.mean,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      bad, e.connect, e.read, e.write, e.status, e.timeout))
   if sample ~= "" then
      -- One line, no tabs/newlines, so the shell can print it as it is.
      io.write("BENCH_SAMPLE " .. string.gsub(sample, "%s+", " ") .. "\n")
   end
end
