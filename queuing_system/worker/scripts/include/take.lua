-- Take the job `take` names and start it, as RQ's SimpleWorker starts a job
-- (prepare_execution, then prepare_job_execution). `take` is '' (take none), '*' (the next
-- on the queue, unless `rq suspend` said not to: `suspended`, the flag's value) or the id
-- a blocking move took, started only if it is still in the intermediate list: a worker
-- paused with it finds it given to another.
-- Returns a status, the id, and the values of the job's fields (layout.TAKEN_FIELDS) as it
-- was taken. The status: 'started',
-- 'none', 'empty', 'suspended', 'stranger' (the id was given to another worker) or 'nojob'
-- (no hash: the id is put in the intermediate list, for the worker to skip or set aside).
--
-- The queue's keys: `queue`, `intermediate` (list), `started` (registry); the worker's:
-- `worker` (its hash), `executions` (its set), its `name`; now: `epoch` (seconds), `text`
-- (RQ's). `busy` '1': set the worker busy as it starts the job ('0': it
-- is). (Parameters, not tables: a table made at each call costs what a command does.)

local function take_and_start(take, suspended, execution, queue, intermediate, started, worker, executions,
    name, epoch, text, busy)
  if take == '' then return 'none' end
  local id
  if take == '*' then
    if suspended then return 'suspended' end
    id = rcall('LPOP', queue)
    if not id then return 'empty' end
  else
    id = take
    if rcall('LREM', intermediate, 1, id) == 0 then return 'stranger', id end
  end
  local key = C.JOB_PREFIX .. id
  -- What RQ's restore reads of the job but what its start writes (layout.TAKEN_FIELDS), as
  -- the step's reply gives it.
  local fields = redis.pcall('HMGET', key, C.TAKEN_FIELDS)  -- anyone can write a key of another type there
  if type(fields) ~= 'table' or fields.err or (not fields[1] and rcall('EXISTS', key) == 0) then
    rcall('RPUSH', intermediate, id)
    return 'nojob', id
  end
  -- RQ runs a job for its timeout (else the queue's default); past it and the grace, its
  -- execution expires and the job counts as abandoned.
  local timeout = tonumber(fields[C.TIMEOUT_AT])
  if not (timeout and timeout > 0 and timeout <= 1e9) then timeout = C.DEFAULT_TIMEOUT end  -- nan too
  -- Numbers are given to Redis as text made here: redis.call makes a Lua number text with
  -- printf's %.17g, four times the cost of the command that takes it.
  local ttl = math.floor(timeout) + C.ABANDON_GRACE
  local at = math.floor(tonumber(epoch))
  local kept, listed = string.format('%d', ttl), string.format('%d', ttl + C.EXECUTION_GRACE)
  local run = id .. ':' .. execution
  local execution_key, job_executions = C.EXECUTION_PREFIX .. run, C.EXECUTIONS_PREFIX .. id
  rcall('HSET', execution_key, 'id', execution, 'job_id', id, 'created_at', epoch, 'last_heartbeat', epoch,
    'worker_name', name)
  rcall('EXPIRE', execution_key, kept)
  rcall('ZADD', job_executions, string.format('%d', at + ttl + C.EXECUTION_GRACE), execution)
  rcall('EXPIRE', job_executions, listed)
  rcall('ZADD', started, string.format('%d', at + ttl), run)
  rcall('SADD', executions, run)
  rcall('EXPIRE', executions, listed)
  if busy == '1' then rcall('HSET', worker, 'state', 'busy') end
  rcall('HSET', key, 'last_heartbeat', text, 'status', C.STARTED, 'started_at', text, 'worker_name', name)
  rcall('PERSIST', key)
  return 'started', id, fields
end

-- A step's reply: the job's values (layout.TAKEN_FIELDS), then {passed, dependents, status,
-- id}; no values if no job was started. One flat array: Redis 6 writes a reply holding an
-- array in an array in three writes to its socket, one flat in one. Sent again, a step
-- answers from its marker, with the job's values as they are now.
local function taken_reply(passed, dependents, status, id, fields)
  if status ~= 'started' then return {passed, dependents, status, id or false} end
  fields = fields or rcall('HMGET', C.JOB_PREFIX .. id, C.TAKEN_FIELDS)
  local n = #fields
  fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] = passed, dependents, status, id
  return fields
end
