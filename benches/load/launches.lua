-- wrk script: POST /launch with the tokens of launches.txt, each once, in turn.
-- Every request is fully verified; once the list is used up, tokens come round again and
-- are refused as replayed (HTTP 403) after the same full verification.
local tokens = {}
for line in io.lines(os.getenv("LAUNCHES") or "launches.txt") do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local counter = 0


setup = function(thread)
  thread:set("offset", counter)
  counter = counter + 1
end

init = function(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Accept"] = "application/json"
end

local index = 0
request = function()
  index = index + 1
  -- Every thread walks the whole list, starting at its own place.
  local token = tokens[((index + offset * 997) % #tokens) + 1]
  return wrk.format(nil, "/launch", nil, "token=" .. token)
end

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
