dofile(os.getenv("BENCH_DIR") .. "/wrk/common.lua")
local body = '{"amount": "0.01", "paid_on": "2020-07-01", "reference": "BENCH"}'
request = function() return post("/api/v1/awards/" .. award() .. "/payments", body) end
