-- A job's result: an entry of its result stream as RQ's Result.save writes it (its fields
-- in Result.serialize's order; '' for a field it leaves out), the stream kept `kept`
-- seconds ('-1': for ever; '': as it is).
--
-- A stream made by XADD holds its first entry in a node of 4 KB, made ready for more (Redis
-- 6.2 to 7.2 shrink a node only once it is full): 4.3 KB for a result stream that keeps one
-- entry, 60% of what a finished job keeps. A copy is made to fit (COPY), 0.4 KB, and takes
-- the stream's place (RENAME), its expiry set after (Redis 6.0 has no COPY: left as it is).

local function add_entry(results, kind, worker_name, exc_string, return_value, execution, started, ended)
  local fields = {'type', kind, 'worker_name', worker_name}
  if exc_string ~= '' then
    fields[#fields + 1] = 'exc_string'
    fields[#fields + 1] = exc_string
  end
  if return_value ~= '' then
    fields[#fields + 1] = 'return_value'
    fields[#fields + 1] = return_value
  end
  if execution ~= '' then
    fields[#fields + 1] = 'execution_id'
    fields[#fields + 1] = execution
    fields[#fields + 1] = 'execution_started_at'
    fields[#fields + 1] = started
    fields[#fields + 1] = 'execution_ended_at'
    fields[#fields + 1] = ended
  end
  rcall('XADD', results, 'MAXLEN', '~', C.RESULTS_KEPT, '*', unpack(fields))
end

local function add_result(job_id, kept, kind, worker_name, exc_string, return_value, execution, started, ended)
  local results = C.RESULTS_PREFIX .. job_id
  if exc_string == '' and return_value == '' and execution ~= '' then  -- most: no table made
    rcall('XADD', results, 'MAXLEN', '~', C.RESULTS_KEPT, '*', 'type', kind, 'worker_name', worker_name,
      'execution_id', execution, 'execution_started_at', started, 'execution_ended_at', ended)
  else
    add_entry(results, kind, worker_name, exc_string, return_value, execution, started, ended)
  end
  if kept == '' then return end  -- its expiry as it is: a copy would lose it
  if redis.pcall('COPY', results, C.COPYING_KEY, 'REPLACE') == 1 then  -- Redis 6.2 and later
    rcall('RENAME', C.COPYING_KEY, results)
  end
  if kept == '-1' then
    rcall('PERSIST', results)
  else
    rcall('EXPIRE', results, kept)
  end
end
