-- set_aside_scheduled: a due entry of the scheduled registry that RQ's scheduler cannot
-- handle (no job id; a job it cannot read), moved to the set-aside list in one step, once
-- (whoever removes it from the registry), and, if an error is given, reported failed.
--
-- KEYS[1] scheduled registry (rq:scheduled:Q)       KEYS[2] set-aside list
-- KEYS[3] event stream (queuing:events:Q)
-- ARGV[1] the entry                                 ARGV[2] the error of its failed event
--                                                           ('': none is sent)
-- Returns 1 if it was set aside.

--! include events.lua

if rcall('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
rcall('RPUSH', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then add_event(KEYS[3], ARGV[1], C.FAILED_EVENT, '', '', ARGV[2]) end
return 1
