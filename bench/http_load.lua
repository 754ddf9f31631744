-- wrk script: HTTP load on the territory dry-run check (helper of http_load.sh).
--
-- What: POSTs the lines of a body file (one JSON body per line, made by
--       http_load_setup.py) to /networks/bench/grants/check, cycling through
--       them; each wrk thread starts at a different line.
-- How:  wrk -t2 -c2 -d10s -s bench/http_load.lua http://127.0.0.1:PORT -- BODY_FILE
--       (or BODY_FILE=... in the environment instead of the argument after --);
--       with BENCH_TOKEN set, every request carries it as a bearer token.
-- Prints one line on stdout:
--   RESULT requests=N duration_s=S rps=R p50_ms=A p99_ms=B non200=0 sockerr=0
--   (latency = wrk's per-request latency, microseconds in wrk, printed as ms)
-- and exits 1, with a sample of the first bad answer on stderr, if any response
-- was not 200 or any socket error/timeout happened.

local PATH = "/networks/bench/grants/check"
local threads, nthreads = {}, 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  threads[nthreads] = thread
end

function init(args)
  local file = args[1] or os.getenv("BODY_FILE")
  assert(file, "body file: pass it after -- or set BODY_FILE")
  reqs = {}
  headers = { ["Content-Type"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token and #token > 0 then headers["Authorization"] = "Bearer " .. token end
  for line in io.lines(file) do
    if #line > 0 then
      reqs[#reqs + 1] = wrk.format("POST", PATH, headers, line)
    end
  end
  assert(#reqs > 0, "no bodies in " .. file)
  i = (id * 7919) % #reqs -- stagger the threads over the file
  non200, first_bad = 0, ""
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
end

function done(summary, latency, requests)
  local bad, sample = 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
    if sample == "" then sample = t:get("first_bad") end
  end
  local e = summary.errors
  local sockerr = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f non200=%d sockerr=%d\n",
    summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad, sockerr))
  if bad > 0 or sockerr > 0 then
    io.stderr:write(string.format("FAIL: %d non-200 responses, %d socket errors/timeouts; first bad: %s\n",
      bad, sockerr, sample))
    os.exit(1)
  end
end
