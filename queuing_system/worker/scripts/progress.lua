-- progress: a running job's progress, sent while it runs (what waited longer than the
-- worker's FLUSH_AFTER; the rest goes with the job's end).
--
-- KEYS[1] step marker (queuing:step:W)      KEYS[2] job (rq:job:J)
-- KEYS[3] event stream (queuing:events:Q)
-- ARGV[1] step number                       ARGV[2] the job's meta ('' for none)
-- ARGV[3] the number of events, each as its number of fields and values, then those.
-- Returns {'', '', 'none', false, false}, as every step does.

--! include step.lua
--! include events.lua

if not done_before() then
  if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], 'meta', ARGV[2]) end
  add_events(KEYS[3], 3)
  mark_done('', '', 'none')
end
return {'', '', 'none', false, false}
