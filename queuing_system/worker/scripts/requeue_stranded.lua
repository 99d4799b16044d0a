-- requeue_stranded: the jobs a worker had taken off the queue (a blocking move put them in
-- the intermediate list) but never started, because it died or froze: seen there by two
-- maintenance passes in a row (RQ's first-seen mark), they go back to the front of the
-- queue. Never started, they are safe to run; a worker that was only paused finds its job
-- gone when it wakes, and does not start it. An id with no job behind it is left for the
-- worker to drop (as RQ's IntermediateQueue.cleanup drops it) or, not text, to set aside.
--
-- KEYS[1] intermediate (rq:queue:Q:intermediate)    KEYS[2] queue (rq:queue:Q)
-- KEYS[3] started registry (rq:wip:Q)
-- ARGV[1] first-seen key prefix (rq:queue:Q:intermediate:first_seen:)
-- Returns {ids requeued, ids with no job}.

local running = {}
for _, run in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local id = string.match(run, '^(.*):')
  if id then running[id] = true end
end
local requeued, no_job = {}, {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if not running[id] then
    if redis.call('EXISTS', C.JOB_PREFIX .. id) == 0 then
      no_job[#no_job + 1] = id
    elseif not redis.call('SET', ARGV[1] .. id, '1', 'NX', 'EX', C.FIRST_SEEN_TTL) then
      redis.call('LREM', KEYS[1], 1, id)
      redis.call('LPUSH', KEYS[2], id)
      redis.call('DEL', ARGV[1] .. id)
      requeued[#requeued + 1] = id
    end
  end
end
return {requeued, no_job}
