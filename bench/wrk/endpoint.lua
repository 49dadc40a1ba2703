-- wrk script used by the benchmarks through bench/harness/wrk.py.
--
--   wrk ... -s bench/wrk/endpoint.lua URL -- MODE [CODES_FILE] THREADS
--
-- MODE is one of:
--   healthz   GET /healthz (the trivial baseline)
--   get       GET /arc/v1/providers/products/{code}, rotating over CODES_FILE (one code a line)
--   register  POST /arc/v1/providers/products {"product_code": code}, a fresh code per request: thread i
--             of THREADS takes codes i, i+THREADS, i+2*THREADS, ... so no code is sent twice until the
--             list is exhausted (then it wraps and the server answers 409)
--   paths     GET each path of CODES_FILE in turn (one URL-encoded path with its query string a line),
--             e.g. "/arc/v1/products?query=losartan%2050" or "/arc/v1/providers/products?page=66&size=15"
-- The Bearer token comes from wrk's -H option. Every mode builds each request in Lua and counts
-- response statuses, so the driver does the same work per request whatever the endpoint. done()
-- prints one line "BENCH_JSON {...}" that bench/harness/wrk.py parses.

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   mode = args[1]
   nthreads = tonumber(args[3]) or 1
   codes = {}
   if args[2] ~= nil and args[2] ~= "" and args[2] ~= "-" then
      for line in io.lines(args[2]) do
         if line ~= "" then
            codes[#codes + 1] = line
         end
      end
   end
   if mode ~= "healthz" and #codes == 0 then
      error("mode " .. tostring(mode) .. " needs a codes file")
   end
   idx = tid or 0
   statuses = {}
   if mode == "register" then
      wrk.headers["Content-Type"] = "application/json"
   end
end

function request()
   if mode == "healthz" then
      return wrk.format("GET", "/healthz")
   end
   local code = codes[(idx % #codes) + 1]
   idx = idx + nthreads
   if mode == "get" then
      return wrk.format("GET", "/arc/v1/providers/products/" .. code)
   end
   if mode == "paths" then
      return wrk.format("GET", code)
   end
   return wrk.format("POST", "/arc/v1/providers/products", nil, '{"product_code":"' .. code .. '"}')
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
   local merged = {}
   for _, thread in ipairs(threads) do
      local counts = thread:get("statuses") or {}
      for status, n in pairs(counts) do
         merged[status] = (merged[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(merged) do
      parts[#parts + 1] = string.format('"%s":%d', status, n)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
      latency.max, latency.mean,
      table.concat(parts, ",")))
end
