-- wrk script for bench/bench_scale.py: send the requests listed in a file, round robin.
--
--   wrk -t2 -c50 -d10s --latency -s bench/scale/requests.lua http://127.0.0.1:PORT -- FILE THREADS
--
-- FILE has one request per line, fields separated by tabs:
--   METHOD <tab> PATH <tab> BODY <tab> Header: value <tab> Header: value ...
-- BODY may be empty (no body); any number of header fields may follow. THREADS is wrk's -t,
-- so that each thread starts at its own share of the list instead of all at the first line.

local threads_set_up = 0

function setup(thread)
   thread:set("thread_index", threads_set_up)
   threads_set_up = threads_set_up + 1
end

local function fields(line)
   local found = {}
   for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      found[#found + 1] = field
   end
   return found
end

local function parse(line)
   local f = fields(line)
   local headers = {}
   for i = 4, #f do
      local name, value = f[i]:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = value end
   end
   local body = f[3] ~= "" and f[3] or nil
   return wrk.format(f[1], f[2], headers, body)
end

function init(args)
   requests = {}
   for line in io.lines(args[1]) do
      if line ~= "" then requests[#requests + 1] = parse(line) end
   end
   if #requests == 0 then error("no requests in " .. args[1]) end
   local threads = tonumber(args[2]) or 1
   next_request = math.floor(thread_index * #requests / threads)
end

function request()
   next_request = next_request % #requests + 1
   return requests[next_request]
end
