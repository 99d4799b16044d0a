-- abandon: a job whose worker stopped before finishing it (its execution expired in the
-- started registry), claimed and ended as RQ's StartedJobRegistry.cleanup ends it: failed
-- (record_job_failure), or retried if it has retries left (Job.retry), with its event.
-- Claimed: written only by whoever takes the run out of the started registry, so that a
-- worker that was only paused and reports the job's end now writes nothing (its end is
-- guarded), and two maintenance passes report it once.
--
-- KEYS[1] started registry (rq:wip:Q)       KEYS[2] job (rq:job:J)
-- KEYS[3] results (rq:results:J)
-- KEYS[4] registry the job goes to (rq:failed:Q, or rq:scheduled:Q for a retry)
-- KEYS[5] event stream (queuing:events:Q)   KEYS[6] queue (rq:queue:Q)
-- KEYS[7] the queues (rq:queues)            KEYS[8] dependents (rq:job:J:dependents)
-- KEYS[9] dependencies (rq:job::J:dependencies)
-- ARGV[1] J:E                               ARGV[2] J
-- ARGV[3] what becomes of the job: 'failed', 'scheduled', 'queued' or 'queued_front'
-- failed:  ARGV[4] seconds the job is kept, ARGV[5] its score in the failed registry,
--          ARGV[6] seconds its result is kept ('': as the stream is), ARGV[7] the number
--          of the result entry's fields and values, then those
-- retried: ARGV[4] its retries left, ARGV[5] when it is due (whole seconds) or when it
--          was queued again (RQ's text)
-- then the event: the number of its fields and values, then those.
-- Returns {claimed ('1' or '0'), dependents ('1' if the job has some)}.

--! include events.lua

if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return {'0', '0'} end
if redis.call('HGET', KEYS[2], 'status') ~= 'started' then return {'0', '0'} end
local becomes, i, dependents = ARGV[3], 6, '0'
if becomes == 'failed' then
  redis.call('HSET', KEYS[2], 'status', 'failed')
  local ttl = tonumber(ARGV[4])
  if redis.call('EXISTS', KEYS[8]) == 1 then
    dependents = '1'
    if ttl > 0 then redis.call('EXPIRE', KEYS[8], ttl) end
  end
  if ttl > 0 then
    redis.call('EXPIRE', KEYS[2], ttl)
    redis.call('EXPIRE', KEYS[9], ttl)
  end
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[2])
  local count = tonumber(ARGV[7])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', C.RESULTS_KEPT, '*', unpack(ARGV, 8, 7 + count))
  local kept = tonumber(ARGV[6])
  if kept and kept >= 0 then
    redis.call('EXPIRE', KEYS[3], kept)
  elseif kept then
    redis.call('PERSIST', KEYS[3])
  end
  i = 8 + count
elseif becomes == 'scheduled' then
  redis.call('HSET', KEYS[2], 'status', 'scheduled', 'retries_left', ARGV[4])
  redis.call('SADD', KEYS[7], KEYS[6])
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[2])
else
  redis.call('HSET', KEYS[2], 'status', 'queued', 'retries_left', ARGV[4], 'enqueued_at', ARGV[5])
  redis.call(becomes == 'queued_front' and 'LPUSH' or 'RPUSH', KEYS[6], ARGV[2])
end
add_event(KEYS[5], i)
return {'1', dependents}
