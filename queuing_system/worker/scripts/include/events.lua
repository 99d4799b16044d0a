-- A job's event on its queue's stream (capped at about C.EVENTS_KEPT entries), as
-- events.py reads it: the job's id, the event's kind, the job's `created` stamp, the
-- progress it reported before that it had not sent on its own (`before`: percentages,
-- space-separated, '' for none), and the kind's own fields: a progress event's percentage
-- (`value`), a failure's error (`value`), a retry's error, `delay` and retries `left`.

local function add_event(stream, job_id, kind, created, before, value, delay, left)
  if kind == C.COMPLETED_EVENT then
    rcall('XADD', stream, 'MAXLEN', '~', C.EVENTS_KEPT, '*', 'job', job_id, 'event', kind,
      'created', created, 'before', before)
  elseif kind == C.PROGRESS_EVENT then
    rcall('XADD', stream, 'MAXLEN', '~', C.EVENTS_KEPT, '*', 'job', job_id, 'event', kind,
      'created', created, 'before', before, 'progress', value)
  elseif kind == C.RETRYING_EVENT then
    rcall('XADD', stream, 'MAXLEN', '~', C.EVENTS_KEPT, '*', 'job', job_id, 'event', kind,
      'created', created, 'before', before, 'error', value, 'delay', delay, 'retries_left', left)
  else
    rcall('XADD', stream, 'MAXLEN', '~', C.EVENTS_KEPT, '*', 'job', job_id, 'event', kind,
      'created', created, 'before', before, 'error', value)
  end
end
