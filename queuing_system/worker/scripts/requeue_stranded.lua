-- requeue_stranded: the jobs a worker had taken off the queue (a blocking move put them in
-- the intermediate list) but never started, because it died or froze: seen there by a
-- maintenance pass ARGV[3] seconds or more after one first saw it (RQ's first-seen mark,
-- the moment it was first seen, as RQ writes it), they go back to the front of the queue.
-- A job in its worker's hands for a moment (between its blocking move and its start) is
-- left alone, whichever workers' passes see it. Never started, they are safe to run; a worker that was only paused finds its job
-- gone when it wakes, and does not start it. An id with no job behind it is left for the
-- worker to drop (as RQ's IntermediateQueue.cleanup drops it) or, not text, to set aside.
--
-- KEYS[1] intermediate (rq:queue:Q:intermediate)    KEYS[2] queue (rq:queue:Q)
-- KEYS[3] started registry (rq:wip:Q)
-- ARGV[1] first-seen key prefix (rq:queue:Q:intermediate:first_seen:)
-- ARGV[2] now, epoch seconds                ARGV[3] seconds seen before it counts as stranded
-- Returns {ids requeued, ids with no job}.

local running = {}
for _, run in ipairs(rcall('ZRANGE', KEYS[3], 0, -1)) do
  local id = string.match(run, '^(.*):')
  if id then running[id] = true end
end
local requeued, no_job = {}, {}
for _, id in ipairs(rcall('LRANGE', KEYS[1], 0, -1)) do
  if not running[id] then
    if rcall('EXISTS', C.JOB_PREFIX .. id) == 0 then
      no_job[#no_job + 1] = id
    else
      local seen = redis.pcall('GET', ARGV[1] .. id)
      if type(seen) == 'table' then seen = '0' end  -- not a string: garbage, as if long ago
      if not seen then
        rcall('SET', ARGV[1] .. id, ARGV[2], 'EX', C.FIRST_SEEN_TTL)
      elseif tonumber(ARGV[2]) - (tonumber(seen) or 0) >= tonumber(ARGV[3]) then
        rcall('LREM', KEYS[1], 1, id)
        rcall('LPUSH', KEYS[2], id)
        rcall('DEL', ARGV[1] .. id)
        requeued[#requeued + 1] = id
      end
    end
  end
end
return {requeued, no_job}
