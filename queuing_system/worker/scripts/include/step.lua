-- A worker's steps are numbered; the last one done is kept in its step marker (for
-- C.STEP_TTL seconds), so that a step sent again after a lost reply is answered from it,
-- not done twice. The marker holds 'seq:passed:dependents:status:id'.

-- What step `seq` did, from the marker's value `mark`, if it was done: {passed,
-- dependents, status, id}; else nil.
local function done_before(mark, seq)
  if not mark then return nil end
  local done, passed, dependents, status, taken = string.match(mark, '^(%d+):(%d?):(%d?):(%a*):(.*)$')
  if done and tonumber(done) >= tonumber(seq) then
    return {passed, dependents, status, taken}
  end
  return nil
end

local function mark_done(marker, seq, passed, dependents, status, taken)
  rcall('SET', marker, table.concat({seq, passed, dependents, status, taken or ''}, ':'), 'EX', C.STEP_TTL)
end
