-- Take the job ARGV[2] names and start it, as RQ's SimpleWorker starts a job
-- (prepare_execution, then prepare_job_execution). ARGV[2] is '' (take none), '*' (the
-- next on the queue, unless `rq suspend` said not to) or the id a blocking move took,
-- started only if it is still in the intermediate list: a worker paused with it finds it
-- given to another.
-- Returns a status, the id, and the job's hash as it was taken. The status: 'started',
-- 'none', 'empty', 'suspended', 'stranger' (the id was given to another worker) or 'nojob'
-- (no hash: the id is put in the intermediate list, for the worker to skip or set aside).
--
-- KEYS[2] queue (rq:queue:Q)                KEYS[3] intermediate (rq:queue:Q:intermediate)
-- KEYS[4] started registry (rq:wip:Q)       KEYS[5] worker (rq:worker:W)
-- KEYS[6] worker's executions (rq:worker:W:executions)
-- KEYS[7] suspension flag (rq:suspended)
-- ARGV[2] what to take                      ARGV[3] the execution id for the job taken
-- ARGV[4] now, epoch seconds                ARGV[5] now, RQ's text
-- ARGV[6] now, whole seconds                ARGV[7] worker name
-- ARGV[8] '1': set the worker busy as it starts the job ('0': it is)

local function take_and_start()
  local take = ARGV[2]
  if take == '' then return 'none' end
  local id
  if take == '*' then
    if redis.call('EXISTS', KEYS[7]) == 1 then return 'suspended' end
    id = redis.call('LPOP', KEYS[2])
    if not id then return 'empty' end
  else
    id = take
    if redis.call('LREM', KEYS[3], 1, id) == 0 then return 'stranger', id end
  end
  local key = C.JOB_PREFIX .. id
  local fields = redis.pcall('HGETALL', key)  -- anyone can write a key of another type there
  if type(fields) ~= 'table' or fields.err or #fields == 0 then
    redis.call('RPUSH', KEYS[3], id)
    return 'nojob', id
  end
  -- RQ runs a job for its timeout (else the queue's default); past it and the grace, its
  -- execution expires and the job counts as abandoned.
  local timeout
  for i = 1, #fields, 2 do
    if fields[i] == 'timeout' then
      timeout = tonumber(fields[i + 1])
      break
    end
  end
  if not (timeout and timeout > 0 and timeout <= 1e9) then timeout = C.DEFAULT_TIMEOUT end  -- nan too
  local ttl = math.floor(timeout) + C.ABANDON_GRACE
  local at = tonumber(ARGV[6])
  local execution, composite = ARGV[3], id .. ':' .. ARGV[3]
  local execution_key, executions = C.EXECUTION_PREFIX .. composite, C.EXECUTIONS_PREFIX .. id
  redis.call('HSET', execution_key, 'id', execution, 'job_id', id, 'created_at', ARGV[4],
    'last_heartbeat', ARGV[4], 'worker_name', ARGV[7])
  redis.call('EXPIRE', execution_key, ttl)
  redis.call('ZADD', executions, at + ttl + C.EXECUTION_GRACE, execution)
  redis.call('EXPIRE', executions, ttl + C.EXECUTION_GRACE)
  redis.call('ZADD', KEYS[4], at + ttl, composite)
  redis.call('SADD', KEYS[6], composite)
  redis.call('EXPIRE', KEYS[6], ttl + C.EXECUTION_GRACE)
  if ARGV[8] == '1' then redis.call('HSET', KEYS[5], 'state', 'busy') end
  redis.call('HSET', key, 'last_heartbeat', ARGV[5], 'status', 'started', 'started_at', ARGV[5],
    'worker_name', ARGV[7])
  redis.call('PERSIST', key)
  return 'started', id, fields
end

-- A step's reply: {passed, dependents, status, id, hash}. Sent again, a step answers from
-- its marker, with the hash of the job it took as that hash is now.
local function taken_reply(passed, dependents, status, id, fields)
  if status == 'started' and not fields then fields = redis.call('HGETALL', C.JOB_PREFIX .. id) end
  return {passed, dependents, status, id or false, fields or false}
end
