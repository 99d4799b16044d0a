-- A job that ended, kept `ttl` seconds (RQ's Job.cleanup): it expires then, with its
-- dependents' set and (`dependencies` '1': it named some) its own; a negative ttl keeps
-- them. Returns '1' if the job has dependents (RQ enqueues them), else '0'.

local function keep_for(job_id, ttl, dependencies)
  local dependents_key = C.JOB_PREFIX .. job_id .. C.DEPENDENTS_SUFFIX
  if string.sub(ttl, 1, 1) == '-' or ttl == '0' then
    return rcall('EXISTS', dependents_key) == 1 and '1' or '0'
  end
  rcall('EXPIRE', C.JOB_PREFIX .. job_id, ttl)
  if dependencies == '1' then rcall('EXPIRE', C.DEPENDENCIES_PREFIX .. job_id .. C.DEPENDENCIES_SUFFIX, ttl) end
  -- its EXPIRE says whether the set is there: no EXISTS before it
  return rcall('EXPIRE', dependents_key, ttl) == 1 and '1' or '0'
end
