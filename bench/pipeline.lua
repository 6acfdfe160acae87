-- wrk script: HTTP/1.1 pipelining.
-- Every write carries `depth` requests (first script argument, default 16)
-- for the URL's path; wrk counts each response, so req/s stays comparable
-- with the non-pipelined runs.
--   wrk -t1 -c64 -d5s -s bench/pipeline.lua http://127.0.0.1:PORT/ -- 16
local depth = 16
local pipelined = nil

function init(args)
  depth = tonumber(args[1]) or depth
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format("GET", wrk.path)
  end
  pipelined = table.concat(requests)
end

function request()
  return pipelined
end
