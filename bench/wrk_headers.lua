-- wrk script of the benchmark: adds the Accept and Authorization headers given in the
-- environment (so a token never appears on a command line) and prints one JSON summary line.
local accept = os.getenv("BENCH_ACCEPT")
local authorization = os.getenv("BENCH_AUTHORIZATION")
if accept and accept ~= "" then
  wrk.headers["Accept"] = accept
end
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
