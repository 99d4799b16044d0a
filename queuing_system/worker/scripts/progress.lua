-- progress: a running job's progress, sent while it runs (what waited longer than the
-- worker's FLUSH_AFTER; the rest goes with the job's end).
--
-- KEYS[1] step marker (queuing:step:W)      KEYS[2] event stream (queuing:events:Q)
-- ARGV[1] step number                       ARGV[2] J
-- ARGV[3] the job's meta ('' for none)      ARGV[4] its created stamp, for its event
-- ARGV[5] its progress, the last reported   ARGV[6] what it reported before, not yet sent
-- Returns {'', '', 'none', false}, as every step that takes no job does.

--! include step.lua
--! include events.lua

if not done_before(rcall('GET', KEYS[1]), ARGV[1]) then
  if ARGV[3] ~= '' then rcall('HSET', C.JOB_PREFIX .. ARGV[2], 'meta', ARGV[3]) end
  add_event(KEYS[2], ARGV[2], C.PROGRESS_EVENT, ARGV[4], ARGV[6], ARGV[5])
  mark_done(KEYS[1], ARGV[1], '', '', 'none')
end
return {'', '', 'none', false}
