dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
request = function() return get("/api/v1/reports/years/2020-21") end
