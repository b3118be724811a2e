-- Shared by the wrk scripts: a bearer token from $TOKEN and award ids from $IDS (one per line).
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local token = "Bearer " .. os.getenv("TOKEN")

function award()
  return ids[math.random(#ids)]
end

function get(path)
  return wrk.format("GET", path, { ["Authorization"] = token })
end

function post(path, body)
  return wrk.format("POST", path, { ["Authorization"] = token, ["Content-Type"] = "application/json" }, body)
end

-- Each thread draws its own sequence of awards.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  math.randomseed(seed * 7919)
end
