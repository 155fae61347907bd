-- wrk script: each connection waits `delay_ms` between requests, so the offered rate is about
-- connections * 1000 / delay_ms requests per second (less when responses take longer than that).
-- Usage: wrk -s rate.lua ... -- <delay_ms>
local delay_ms = 10

function init(args)
  if args[1] ~= nil then delay_ms = tonumber(args[1]) end
end

function delay()
  return delay_ms
end
