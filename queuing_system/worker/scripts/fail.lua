-- fail: a job's failure (RQ's handle_job_failure), or its retry if it has retries left
-- (RQ's Job.retry), then take the next job and start it.
--
-- KEYS[1] step marker (queuing:step:W), KEYS[2..7] as include/take.lua says,
-- KEYS[8..15] as include/end.lua says (KEYS[10]: the failed registry, rq:failed:Q, or
-- for a retry after a back-off the scheduled one, rq:scheduled:Q), then:
-- KEYS[16] the queues (rq:queues)
-- ARGV[1] step number, ARGV[2..8] as include/take.lua says, ARGV[9..14] as
-- include/end.lua says, then:
-- ARGV[15] what becomes of the job: 'failed'; retried: 'scheduled' (when due), 'queued'
--          (at once, at the back of the queue) or 'queued_front' (at its front)
-- failed:  ARGV[16] seconds the job is kept, ARGV[17] its score in the failed registry,
--          ARGV[18] seconds its result is kept ('': as the result stream is), then the
--          number of the result entry's fields and values, then those
-- retried: ARGV[16] its retries left, ARGV[17] when it is due (whole seconds;
--          'scheduled') or when it was queued again (RQ's text; 'queued...')
-- then the number of the job's events (its progress, then its outcome), each as its
-- number of fields and values, then those.
-- Returns {passed, dependents, status, id or false, hash or false}, as finish.lua does.

--! include step.lua
--! include events.lua
--! include take.lua
--! include end.lua

local again = done_before()
if again then return taken_reply(again[1], again[2], again[3], again[4]) end
local passed, dependents = '0', '0'
if still_running() then
  passed = '1'
  local becomes, i = ARGV[15], 18
  if becomes == 'failed' then
    end_fields('failed')
    dependents = keep_for(tonumber(ARGV[16]))
    redis.call('ZADD', KEYS[10], ARGV[17], ARGV[9])
    i = add_result(19, tonumber(ARGV[18]))
  elseif becomes == 'scheduled' then
    end_fields('scheduled', {'retries_left', ARGV[16]})
    redis.call('SADD', KEYS[16], KEYS[2])
    redis.call('ZADD', KEYS[10], ARGV[17], ARGV[9])
  else
    end_fields('queued', {'retries_left', ARGV[16], 'enqueued_at', ARGV[17]})
    redis.call(becomes == 'queued_front' and 'LPUSH' or 'RPUSH', KEYS[2], ARGV[9])
  end
  end_execution()
  add_events(KEYS[15], i)
end
local status, id, fields = take_and_start()
mark_done(passed, dependents, status, id)
return taken_reply(passed, dependents, status, id, fields)
