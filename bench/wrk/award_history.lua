dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
request = function() return get("/api/v1/awards/" .. award() .. "/history") end
