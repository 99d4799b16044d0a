-- finish: a job's success (RQ's handle_job_success), then take the next job and start it.
--
-- KEYS[1] step marker (queuing:step:W), KEYS[2..7] as include/take.lua says,
-- KEYS[8..15] as include/end.lua says (KEYS[10]: the finished registry, rq:finished:Q).
-- ARGV[1] step number, ARGV[2..8] as include/take.lua says, ARGV[9..14] as
-- include/end.lua says, then:
-- ARGV[15] result ttl: seconds the job and its result are kept (negative: for ever; 0:
--          the job is deleted at once, as RQ does)
-- ARGV[16] its score in the finished registry (when it leaves it, or +inf)
-- ARGV[17] the number of the result entry's fields and values, which follow; then the
--          number of the job's events (its progress, then its outcome), each as its
--          number of fields and values, then those.
-- Returns {passed, dependents, status, id or false, hash or false}: passed '1' if the end
-- was written ('0': the job had been reported abandoned), dependents '1' if the job has
-- some, then what was taken (include/take.lua).

--! include step.lua
--! include events.lua
--! include take.lua
--! include end.lua

local again = done_before()
if again then return taken_reply(again[1], again[2], again[3], again[4]) end
local passed, dependents = '0', '0'
if still_running() then
  passed = '1'
  local ttl = tonumber(ARGV[15])
  local i = 17
  if ttl == 0 then
    dependents = redis.call('EXISTS', KEYS[13]) == 1 and '1' or '0'
    i = i + 1 + tonumber(ARGV[i])
    redis.call('DEL', KEYS[8], KEYS[14], KEYS[9], KEYS[12])  -- RQ's Job.delete; its dependents kept for them to run
  else
    end_fields('finished')
    i = add_result(i, ttl)
    redis.call('ZADD', KEYS[10], ARGV[16], ARGV[9])
    dependents = keep_for(ttl)
  end
  end_execution()
  add_events(KEYS[15], i)
end
local status, id, fields = take_and_start()
mark_done(passed, dependents, status, id)
return taken_reply(passed, dependents, status, id, fields)
