-- wrk script for bench/http.sh: POSTs the file named by $BODY with Content-Type application/json,
-- and prints one machine-readable RESULT line at the end for the script to parse.

local path = os.getenv("BODY") or error("set BODY to the file to POST")
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
-- $AUTH, when set, is sent as the Authorization header (bench/http.sh's `authed` server).
if os.getenv("AUTH") and os.getenv("AUTH") ~= "" then
  wrk.headers["Authorization"] = os.getenv("AUTH")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
