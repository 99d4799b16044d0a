-- fail: a job's failure (RQ's handle_job_failure), or its retry if it has retries left
-- (RQ's Job.retry), as Python decided (worker/failure.py), then take the next job and
-- start it.
--
-- KEYS[1..12] and ARGV[1..19] as finish.lua says; then, as worker/failure.py decides them:
-- ARGV[20] what becomes of the job: 'failed'; retried: 'scheduled' (when due), 'queued'
--          (at once, at the back of the queue) or 'queued_front' (at its front)
-- failed:  ARGV[21] seconds the job is kept, ARGV[22] its score in the failed registry
-- retried: ARGV[21] its retries left, ARGV[22] when it is due (whole seconds;
--          'scheduled') or when it was queued again (RQ's text; 'queued...')
-- ARGV[23] failed: seconds its result is kept ('': as the result stream is)
-- ARGV[24] failed: the failure as its result keeps it (exc_string)
-- ARGV[25] a retry's delay, seconds, for its event
-- Returns the job's values then {passed, dependents, status, id}, as finish.lua does.

--! include end.lua
--! include result.lua
--! include failure.lua

local mark = rcall('MGET', KEYS[1], KEYS[7])
local again = done_before(mark[1], ARGV[1])
if again then return taken_reply(again[1], again[2], again[3], again[4]) end
local passed, dependents = '0', '0'
local job_id, execution, becomes = ARGV[9], ARGV[10], ARGV[20]
if claimed(KEYS[4], job_id, execution) then
  passed = '1'
  dependents = failed_or_retried(job_id, becomes, ARGV[21], ARGV[22], ARGV[15], ARGV[6], ARGV[12], KEYS[9],
    KEYS[10], KEYS[2], KEYS[12])
  if becomes == 'failed' then
    add_result(job_id, ARGV[23], C.FAILED_RESULT, ARGV[2], ARGV[24], '', execution, ARGV[11], ARGV[5])
  end
  if ARGV[16] ~= '' then
    add_event(KEYS[11], job_id, ARGV[16], ARGV[17], ARGV[18], ARGV[19], ARGV[25], ARGV[21])
  end
  end_execution(job_id, execution, KEYS[5], KEYS[6], ARGV[13], ARGV[14])
end
return and_take(KEYS[1], ARGV[1], passed, dependents, ARGV[3], mark[2], ARGV[4], KEYS[2], KEYS[3], KEYS[4],
  KEYS[5], KEYS[6], ARGV[2], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
