-- claim_abandoned: under RQ's own worker, the event of a job RQ found abandoned (its
-- maintenance calls the job's failure callback, callbacks.report_failure), written only
-- by whoever takes its expired runs out of the started registry: it cannot cross a worker
-- that was only paused and has just reported the job's end.
--
-- KEYS[1] started registry (rq:wip:Q)       KEYS[2] event stream (queuing:events:Q)
-- ARGV[1] J                                 ARGV[2] now, epoch seconds
-- ARGV[3] its event's kind (failed or retrying), then as include/events.lua takes them:
-- ARGV[4] its created stamp                 ARGV[5] its error
-- ARGV[6] a retry's delay                   ARGV[7] a retry's retries left
-- Returns how many runs it claimed.

--! include events.lua

local prefix, claimed = ARGV[1] .. ':', 0
for _, run in ipairs(rcall('ZRANGEBYSCORE', KEYS[1], 0, ARGV[2])) do
  if string.sub(run, 1, #prefix) == prefix then
    claimed = claimed + rcall('ZREM', KEYS[1], run)
  end
end
if claimed > 0 then add_event(KEYS[2], ARGV[1], ARGV[3], ARGV[4], '', ARGV[5], ARGV[6], ARGV[7]) end
return claimed
