-- The end of a job's run, success or failure. It is guarded: written only if the run's
-- execution is still in the started registry (else the job was reported abandoned while
-- this worker held it, and has its outcome). It ends the execution as RQ's
-- cleanup_execution does and counts the run in the worker's hash.
--
-- KEYS[8] job (rq:job:J)                    KEYS[9] results (rq:results:J)
-- KEYS[10] registry the job goes to (finished, failed or scheduled)
-- KEYS[11] execution (rq:execution:J:E)     KEYS[12] the job's executions (rq:executions:J)
-- KEYS[13] dependents (rq:job:J:dependents) KEYS[14] dependencies (rq:job::J:dependencies)
-- KEYS[15] event stream (queuing:events:Q)
-- ARGV[9] J                                 ARGV[10] E
-- ARGV[11] ended, RQ's text                 ARGV[12] seconds worked
-- ARGV[13] the job's meta to write ('' for none)
-- ARGV[14] the worker's count of it (successful_job_count or failed_job_count)

local function run_key()
  return ARGV[9] .. ':' .. ARGV[10]
end

local function still_running()
  return redis.call('ZSCORE', KEYS[4], run_key()) ~= false
end

-- The job's own fields at its end (RQ saves the whole hash again: only these changed),
-- with `more` (a list of field, value).
local function end_fields(status, more)
  local fields = {'status', status, 'ended_at', ARGV[11], 'last_heartbeat', ARGV[11]}
  if ARGV[13] ~= '' then
    fields[#fields + 1] = 'meta'
    fields[#fields + 1] = ARGV[13]
  end
  for _, value in ipairs(more or {}) do fields[#fields + 1] = value end
  redis.call('HSET', KEYS[8], unpack(fields))
end

local function end_execution()
  redis.call('DEL', KEYS[11])
  redis.call('ZREM', KEYS[4], run_key())
  redis.call('ZREM', KEYS[12], ARGV[10])
  redis.call('SREM', KEYS[6], run_key())
  redis.call('HINCRBY', KEYS[5], ARGV[14], 1)
  redis.call('HINCRBYFLOAT', KEYS[5], 'total_working_time', ARGV[12])
end

-- The job's retention (RQ's Job.cleanup): it and its keys expire in `ttl` seconds; a
-- negative ttl keeps them. Returns '1' if the job has dependents, else '0'.
local function keep_for(ttl)
  local dependents = redis.call('EXISTS', KEYS[13]) == 1
  if ttl > 0 then
    redis.call('EXPIRE', KEYS[8], ttl)
    if dependents then redis.call('EXPIRE', KEYS[13], ttl) end
    redis.call('EXPIRE', KEYS[14], ttl)
  end
  return dependents and '1' or '0'
end

-- A result stream entry (Result.save): ARGV[i] is the number of its fields and values,
-- which follow; kept `ttl` seconds (negative: for ever; nil: as the stream is). Returns
-- the index after them.
local function add_result(i, ttl)
  local count = tonumber(ARGV[i])
  redis.call('XADD', KEYS[9], 'MAXLEN', '~', C.RESULTS_KEPT, '*', unpack(ARGV, i + 1, i + count))
  if ttl and ttl >= 0 then
    redis.call('EXPIRE', KEYS[9], ttl)
  elseif ttl then
    redis.call('PERSIST', KEYS[9])
  end
  return i + 1 + count
end
