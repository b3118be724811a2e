dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
-- The public feed's first page of the last generated year's month (no token needed; sent anyway).
request = function() return get("/api/v1/transparency/grants?month=2020-04") end
