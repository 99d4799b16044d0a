-- set_aside_scheduled: a due entry of the scheduled registry that RQ's scheduler cannot
-- handle (no job id; a job it cannot read), moved to the set-aside list in one step, once
-- (whoever removes it from the registry), and, if an event is given, reported failed.
--
-- KEYS[1] scheduled registry (rq:scheduled:Q)       KEYS[2] set-aside list
-- KEYS[3] event stream (queuing:events:Q)
-- ARGV[1] the entry
-- ARGV[2] the event: the number of its fields and values (0: none), then those.
-- Returns 1 if it was set aside.

--! include events.lua

if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
if tonumber(ARGV[2]) > 0 then add_event(KEYS[3], 2) end
return 1
