-- A job's result: an entry of its result stream as RQ's Result.save writes it (its fields
-- in Result.serialize's order; '' for a field it leaves out), the stream kept `kept`
-- seconds ('-1': for ever; '': as it is).

local function add_result(job_id, kept, kind, worker_name, exc_string, return_value, execution, started, ended)
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
  local results = C.RESULTS_PREFIX .. job_id
  rcall('XADD', results, 'MAXLEN', '~', C.RESULTS_KEPT, '*', unpack(fields))
  if kept == '-1' then
    rcall('PERSIST', results)
  elseif kept ~= '' then
    rcall('EXPIRE', results, kept)
  end
end
