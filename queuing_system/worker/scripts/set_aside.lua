-- set_aside: a job this worker started but cannot read (a malformed field of its hash),
-- moved to the set-aside list for a person to inspect, its run ended, and reported failed
-- to its creator: in one step, once (by whoever takes its run out of the started registry).
-- Its hash stays as it is.
--
-- KEYS[1] started registry (rq:wip:Q)       KEYS[2] set-aside list (queuing:set_aside:Q)
-- KEYS[3] event stream (queuing:events:Q)   KEYS[4] execution (rq:execution:J:E)
-- KEYS[5] the job's executions (rq:executions:J)
-- KEYS[6] the worker's executions (rq:worker:W:executions)
-- ARGV[1] J:E                               ARGV[2] J
-- ARGV[3] E
-- ARGV[4] the event: the number of its fields and values, then those.
-- Returns 1 if it was set aside, 0 if another had ended its run.

--! include events.lua

if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[3])
redis.call('SREM', KEYS[6], ARGV[1])
add_event(KEYS[3], 4)
return 1
