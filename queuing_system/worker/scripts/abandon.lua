-- abandon: a job whose worker stopped before finishing it (its execution expired in the
-- started registry), claimed and ended as RQ's StartedJobRegistry.cleanup ends it: failed
-- (record_job_failure), or retried if it has retries left (Job.retry), as Python decided
-- (worker/failure.py), with its event. Claimed: written only by whoever takes the run out
-- of the started registry, so that a worker that was only paused and reports the job's end
-- now writes nothing (its end is guarded), and two maintenance passes report it once.
--
-- KEYS[1] started registry (rq:wip:Q)       KEYS[2] queue (rq:queue:Q)
-- KEYS[3] failed registry (rq:failed:Q)     KEYS[4] scheduled registry (rq:scheduled:Q)
-- KEYS[5] event stream (queuing:events:Q)   KEYS[6] the queues (rq:queues)
-- ARGV[1] J                                 ARGV[2] E
-- ARGV[3] '1' if the job named dependencies
-- ARGV[4] the kind of its event            ARGV[5] its created stamp, for its event
-- ARGV[6] the error its event says
-- ARGV[7..12] what becomes of it, as fail.lua's ARGV[15..20] say (worker/failure.py)
-- Returns {claimed ('1' or '0'), dependents ('1' if the job has some)}.

--! include events.lua
--! include result.lua
--! include failure.lua

local job_id, becomes = ARGV[1], ARGV[7]
if rcall('ZREM', KEYS[1], job_id .. ':' .. ARGV[2]) == 0 then return {'0', '0'} end
if rcall('HGET', C.JOB_PREFIX .. job_id, 'status') ~= C.STARTED then return {'0', '0'} end
local dependents = failed_or_retried(job_id, becomes, ARGV[8], ARGV[9], ARGV[3], '', '', KEYS[3], KEYS[4],
  KEYS[2], KEYS[6])
if becomes == 'failed' then add_result(job_id, ARGV[10], C.FAILED_RESULT, '', ARGV[11], '', '', '', '') end
add_event(KEYS[5], job_id, ARGV[4], ARGV[5], '', ARGV[6], ARGV[12], ARGV[8])
return {'1', dependents}
