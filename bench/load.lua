-- wrk script for bench/load.py: every request is one signed-in patient opening one of their pages.
--
--   wrk ... -s bench/load.lua http://127.0.0.1:PORT -- PAGE PATIENTS_FILE
--
-- PAGE is "statement" (/statements/<number>), "statements" (the list), "glossary", "pdf"
-- (/statements/<number>/pdf) or "mixed" (statement 5, list 3, glossary 2 in 10; no PDFs, which are measured
-- apart because printing one takes a core for a second). PATIENTS_FILE has a
-- line per patient: their Cookie header, a tab, their statement numbers separated by commas. Each request
-- picks a patient at random, and one of their statements. Every response's status is checked: anything but
-- 200 is counted (wrk itself counts only 4xx and 5xx), and done() prints one line, "RESULT {json}", that
-- bench/load.py reads.

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

local page
local patients = {}
non200 = 0
statuses = ""
local by_status = {}

function init(args)
   page = args[1]
   for line in io.lines(args[2]) do
      local cookie, numbers = line:match("^([^\t]*)\t(.*)$")
      local list = {}
      for number in numbers:gmatch("%d+") do
         list[#list + 1] = number
      end
      patients[#patients + 1] = {cookie = cookie, numbers = list}
   end
   -- Each thread its own sequence, so that two threads do not ask for the same pages in step.
   math.randomseed(os.time() * 100 + id)
end

local mixed = {"statement", "statement", "statement", "statement", "statement", "statements", "statements",
               "statements", "glossary", "glossary"}

local function path_for(kind, patient)
   local number = patient.numbers[math.random(#patient.numbers)]
   if kind == "statement" then
      return "/statements/" .. number
   elseif kind == "statements" then
      return "/statements"
   elseif kind == "glossary" then
      return "/glossary"
   elseif kind == "pdf" then
      return "/statements/" .. number .. "/pdf"
   end
   error("unknown page " .. tostring(kind))
end

function request()
   local patient = patients[math.random(#patients)]
   local kind = page
   if kind == "mixed" then
      kind = mixed[math.random(#mixed)]
   end
   return wrk.format("GET", path_for(kind, patient), {Cookie = patient.cookie})
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      by_status[status] = (by_status[status] or 0) + 1
      local parts = {}
      for code, count in pairs(by_status) do
         parts[#parts + 1] = code .. ":" .. count
      end
      statuses = table.concat(parts, ",")
   end
end

function done(summary, latency, requests)
   local non200_total, seen = 0, {}
   for _, thread in ipairs(threads) do
      non200_total = non200_total + thread:get("non200")
      local counted = thread:get("statuses")
      if counted ~= "" then
         seen[#seen + 1] = counted
      end
   end
   local e = summary.errors
   io.write(string.format(
      'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
         .. '"max_us": %d, "non200": %d, "statuses": "%s", "connect": %d, "read": %d, "write": %d, '
         .. '"timeout": %d, "status_errors": %d}\n',
      summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(95),
      latency:percentile(99), latency.max, non200_total, table.concat(seen, ","), e.connect, e.read, e.write,
      e.timeout, e.status))
end
