-- finish: a job's success (RQ's handle_job_success), then take the next job and start it.
-- take.lua and fail.lua take the same KEYS[1..6] and ARGV[1..7], so that the worker sends them
-- the same way (worker/steps.py).
--
-- KEYS[1] step marker (queuing:step:W)      KEYS[2] queue (rq:queue:Q)
-- KEYS[3] intermediate list (rq:queue:Q:intermediate)
-- KEYS[4] started registry (rq:wip:Q)       KEYS[5] worker (rq:worker:W)
-- KEYS[6] worker's executions (rq:worker:W:executions)
-- KEYS[7] finished registry (rq:finished:Q; fail.lua: failed, rq:failed:Q)
-- KEYS[8] event stream (queuing:events:Q)
-- (RQ's own constant keys, rq:suspended and rq:queues, are the scripts' constants.)
-- ARGV[1] step number                       ARGV[2] worker name (W)
-- ARGV[3] what to take: '' (none), '*' (the next on the queue), or the id a blocking move
--         took (include/take.lua)
-- ARGV[4] the execution id for the job taken
-- ARGV[5] now, epoch seconds                ARGV[6] now, RQ's text
-- ARGV[7] '1': set the worker busy ('0': it is)
-- The job that ended (finish.lua, fail.lua):
-- ARGV[8] J                                 ARGV[9] E, its execution
-- ARGV[10] when it started, epoch seconds   ARGV[11] its meta to write ('' for none)
-- ARGV[12] the kind of its event ('': none, as its callbacks are not ours, and it sent
--          all its progress: see events.py)
-- ARGV[13] its created stamp, for the event ARGV[14] the progress before it
-- finish.lua's own:
-- ARGV[15] result ttl: seconds the job and its result are kept ('-1': for ever; '0': the
--          job is deleted at once, as RQ does)
-- ARGV[16] its score in the finished registry (when it leaves it, or +inf)
-- Then those most often '', each left out when it and those after it are '' (nil: ''):
-- ARGV[17] the event's own value: a progress's percentage, a failure's error (see
--          include/events.lua)
-- ARGV[18] its return value as its result keeps it
-- ARGV[19] the worker's counts of its jobs to write, successful and failed, and its total
--          working time, space-separated ('': none now: include/end.lua)
-- ARGV[20] '1' if the job named dependencies
-- Returns the job's values then {passed, dependents, status, id} (include/take.lua): passed '1' if the end
-- was written ('0': the job had been reported abandoned), dependents '1' if the job has
-- some, then what was taken (include/take.lua).

--! include end.lua
--! include result.lua
--! include retention.lua

local mark = rcall('MGET', KEYS[1], C.SUSPENDED_KEY)
local again = done_before(mark[1], ARGV[1])
if again then return taken_reply(again[1], again[2], again[3], again[4]) end
local passed, dependents = '0', '0'
local job_id, execution = ARGV[8], ARGV[9]
if claimed(KEYS[4], job_id, execution) then
  passed = '1'
  local ttl = ARGV[15]
  if ttl == '0' then  -- RQ's Job.delete; its dependents kept for them to run
    dependents = rcall('EXISTS', C.JOB_PREFIX .. job_id .. C.DEPENDENTS_SUFFIX) == 1 and '1' or '0'
    rcall('DEL', C.JOB_PREFIX .. job_id, C.DEPENDENCIES_PREFIX .. job_id .. C.DEPENDENCIES_SUFFIX,
      C.RESULTS_PREFIX .. job_id, C.EXECUTIONS_PREFIX .. job_id)
  else
    end_job(C.JOB_PREFIX .. job_id, C.FINISHED, ARGV[6], ARGV[11])
    add_result(job_id, ttl, C.SUCCESSFUL_RESULT, ARGV[2], '', ARGV[18] or '', execution, ARGV[10], ARGV[5])
    rcall('ZADD', KEYS[7], ARGV[16], job_id)
    dependents = keep_for(job_id, ttl, ARGV[20])
  end
  end_execution(job_id, execution, KEYS[5], KEYS[6], ARGV[19] or '')
  if ARGV[12] ~= '' then add_event(KEYS[8], job_id, ARGV[12], ARGV[13], ARGV[14], ARGV[17] or '') end
end
return and_take(KEYS[1], ARGV[1], passed, dependents, ARGV[3], mark[2], ARGV[4], KEYS[2], KEYS[3], KEYS[4],
  KEYS[5], KEYS[6], ARGV[2], ARGV[5], ARGV[6], ARGV[7])
