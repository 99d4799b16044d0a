-- fail: a job's failure (RQ's handle_job_failure), or its retry if it has retries left
-- (RQ's Job.retry), as Python decided (worker/failure.py), then take the next job and
-- start it.
--
-- KEYS[1..8] as finish.lua says (KEYS[7] the failed registry, rq:failed:Q), then
-- KEYS[9] scheduled registry (rq:scheduled:Q)
-- ARGV[1..14] as finish.lua says; then, as worker/failure.py decides them:
-- ARGV[15] what becomes of the job: 'failed'; retried: 'scheduled' (when due), 'queued'
--          (at once, at the back of the queue) or 'queued_front' (at its front)
-- failed:  ARGV[16] seconds the job is kept, ARGV[17] its score in the failed registry
-- retried: ARGV[16] its retries left, ARGV[17] when it is due (whole seconds;
--          'scheduled') or when it was queued again (RQ's text; 'queued...')
-- ARGV[18] failed: seconds its result is kept ('': as the result stream is)
-- ARGV[19] failed: the failure as its result keeps it (exc_string)
-- ARGV[20] a retry's delay, seconds, for its event
-- Then, each left out when it and those after it are '' (nil: '', as for any ARGV from
-- ARGV[18] on), as finish.lua's
-- ARGV[17], ARGV[19] and ARGV[20] say:
-- ARGV[21] the event's own value            ARGV[22] the worker's counts
-- ARGV[23] '1' if the job named dependencies
-- Returns the job's values then {passed, dependents, status, id}, as finish.lua does.

--! include end.lua
--! include result.lua
--! include failure.lua

local mark = rcall('MGET', KEYS[1], C.SUSPENDED_KEY)
local again = done_before(mark[1], ARGV[1])
if again then return taken_reply(again[1], again[2], again[3], again[4]) end
local passed, dependents = '0', '0'
local job_id, execution, becomes = ARGV[8], ARGV[9], ARGV[15]
if claimed(KEYS[4], job_id, execution) then
  passed = '1'
  dependents = failed_or_retried(job_id, becomes, ARGV[16], ARGV[17], ARGV[23], ARGV[6], ARGV[11], KEYS[7],
    KEYS[9], KEYS[2], C.QUEUES_KEY)
  if becomes == 'failed' then
    add_result(job_id, ARGV[18] or '', C.FAILED_RESULT, ARGV[2], ARGV[19] or '', '', execution, ARGV[10], ARGV[5])
  end
  if ARGV[12] ~= '' then
    add_event(KEYS[8], job_id, ARGV[12], ARGV[13], ARGV[14], ARGV[21] or '', ARGV[20] or '', ARGV[16])
  end
  end_execution(job_id, execution, KEYS[5], KEYS[6], ARGV[22] or '')
end
return and_take(KEYS[1], ARGV[1], passed, dependents, ARGV[3], mark[2], ARGV[4], KEYS[2], KEYS[3], KEYS[4],
  KEYS[5], KEYS[6], ARGV[2], ARGV[5], ARGV[6], ARGV[7])
