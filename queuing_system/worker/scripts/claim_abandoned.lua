-- claim_abandoned: under RQ's own worker, the event of a job RQ found abandoned (its
-- maintenance calls the job's failure callback, callbacks.report_failure), written only
-- by whoever takes its expired runs out of the started registry: it cannot cross a worker
-- that was only paused and has just reported the job's end.
--
-- KEYS[1] started registry (rq:wip:Q)       KEYS[2] event stream (queuing:events:Q)
-- ARGV[1] the job id                        ARGV[2] now, epoch seconds
-- ARGV[3] the event: the number of its fields and values, then those.
-- Returns how many runs it claimed.

--! include events.lua

local prefix, claimed = ARGV[1] .. ':', 0
for _, run in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[2])) do
  if string.sub(run, 1, #prefix) == prefix then
    claimed = claimed + redis.call('ZREM', KEYS[1], run)
  end
end
if claimed > 0 then add_event(KEYS[2], 3) end
return claimed
