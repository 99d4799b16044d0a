--! include events.lua
--! include step.lua
--! include take.lua

-- The end of a job's run, success or failure (finish.lua, fail.lua), and what follows it
-- in the same step: the next job taken and started.

-- The run `job_id:execution` taken out of the started registry, if it is still there: a
-- job's end is written only then (else the job was reported abandoned while this worker
-- held it, and has its outcome: whoever takes a run out of the registry writes its end).
local function claimed(started, job_id, execution)
  return rcall('ZREM', started, job_id .. ':' .. execution) == 1
end

-- The job's status at its end, and its own fields then (RQ saves the whole hash again:
-- only these changed): when it ended (RQ's text), and its meta unless '' (none to write).
local function end_job(job_key, status, ended, meta)
  if meta == '' then
    rcall('HSET', job_key, 'status', status, 'ended_at', ended, 'last_heartbeat', ended)
  else
    rcall('HSET', job_key, 'status', status, 'ended_at', ended, 'last_heartbeat', ended, 'meta', meta)
  end
end

-- The run (claimed: out of the started registry) ended as RQ's cleanup_execution ends it
-- (`worker`: the worker's hash, `executions`: its set). `counts`, unless '' (written at most
-- once a second: the worker says when), are the worker's counts of its jobs, successful and
-- failed ('' for none), and its total working time, space-separated (RQ's
-- successful_job_count, failed_job_count, total_working_time).
local function end_execution(job_id, execution, worker, executions, counts)
  local run = job_id .. ':' .. execution
  rcall('DEL', C.EXECUTION_PREFIX .. run)
  rcall('ZREM', C.EXECUTIONS_PREFIX .. job_id, execution)
  rcall('SREM', executions, run)
  if counts == '' then return end
  local successful, failed, worked = string.match(counts, '^(%d*) (%d*) (%S+)$')
  local fields = {'total_working_time', worked}
  if successful ~= '' then
    fields[3], fields[4] = 'successful_job_count', successful
  end
  if failed ~= '' then
    fields[#fields + 1], fields[#fields + 2] = 'failed_job_count', failed
  end
  rcall('HSET', worker, unpack(fields))
end

-- The end of a step (take.lua, finish.lua, fail.lua): the job `take` names taken and
-- started, the step marked done, and its reply, with what the end found (`passed`: '1' if
-- it wrote the job's end; `dependents`: '1' if the job has some).
-- The other parameters are take_and_start's.
local function and_take(marker, seq, passed, dependents, take, suspended, execution, queue, intermediate, started,
    worker, executions, name, epoch, text, busy)
  local status, id, fields = take_and_start(take, suspended, execution, queue, intermediate, started, worker,
    executions, name, epoch, text, busy)
  mark_done(marker, seq, passed, dependents, status, id)
  return taken_reply(passed, dependents, status, id, fields)
end
