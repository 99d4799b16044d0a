--! include end.lua
--! include retention.lua

-- What becomes of a job that failed, as Python decided it (worker/failure.py): `becomes`
-- 'failed' (RQ's handle_job_failure: kept `a` seconds, scored `b` in the failed registry),
-- or retried (RQ's Job.retry: `a` retries left after this one): 'scheduled' (due at `b`,
-- whole seconds, in the scheduled registry), 'queued' or 'queued_front' (queued again at
-- `b`, RQ's text, at the back or the front of `queue`). `ended` and `meta`: the job's own
-- fields its end writes with its status (end.lua's end_job; `ended` '': none, as RQ's
-- cleanup of an abandoned job writes its status alone). Returns '1' if the job has
-- dependents.

local function failed_or_retried(job_id, becomes, a, b, dependencies, ended, meta, failed, scheduled, queue, queues)
  local job_key = C.JOB_PREFIX .. job_id
  if becomes == 'failed' then
    if ended == '' then rcall('HSET', job_key, 'status', C.FAILED) else end_job(job_key, C.FAILED, ended, meta) end
    local dependents = keep_for(job_id, a, dependencies)
    rcall('ZADD', failed, b, job_id)
    return dependents
  end
  local fields = {'retries_left', a}  -- a retry: rare
  if ended ~= '' then
    fields[3], fields[4], fields[5], fields[6] = 'ended_at', ended, 'last_heartbeat', ended
    if meta ~= '' then fields[7], fields[8] = 'meta', meta end
  end
  if becomes == 'scheduled' then
    rcall('HSET', job_key, 'status', C.SCHEDULED, unpack(fields))
    rcall('SADD', queues, queue)
    rcall('ZADD', scheduled, b, job_id)
  else
    fields[#fields + 1] = 'enqueued_at'
    fields[#fields + 1] = b
    rcall('HSET', job_key, 'status', C.QUEUED, unpack(fields))
    rcall(becomes == 'queued_front' and 'LPUSH' or 'RPUSH', queue, job_id)
  end
  return '0'
end
