-- set_aside: a job this worker started but cannot read (a malformed field of its hash),
-- moved to the set-aside list for a person to inspect, its run ended, and reported failed
-- to its creator: in one step, once (by whoever takes its run out of the started registry).
-- Its hash stays as it is.
--
-- KEYS[1] started registry (rq:wip:Q)       KEYS[2] set-aside list (queuing:set_aside:Q)
-- KEYS[3] event stream (queuing:events:Q)
-- KEYS[4] the worker's executions (rq:worker:W:executions)
-- ARGV[1] J                                 ARGV[2] E
-- ARGV[3] the error its failed event says
-- Returns 1 if it was set aside, 0 if another had ended its run.

--! include events.lua

local job_id, execution = ARGV[1], ARGV[2]
local run = job_id .. ':' .. execution
if rcall('ZREM', KEYS[1], run) == 0 then return 0 end
rcall('RPUSH', KEYS[2], job_id)
rcall('DEL', C.EXECUTION_PREFIX .. run)
rcall('ZREM', C.EXECUTIONS_PREFIX .. job_id, execution)
rcall('SREM', KEYS[4], run)
add_event(KEYS[3], job_id, C.FAILED_EVENT, '', '', ARGV[3])
return 1
