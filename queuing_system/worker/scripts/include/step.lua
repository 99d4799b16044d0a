-- A worker's steps are numbered; the last one done is kept in its step marker (for
-- C.STEP_TTL seconds), so that a step sent again after a lost reply is answered from it,
-- not done twice. The marker holds 'seq:passed:dependents:status:id'.

-- What step `seq` did, from the marker's value `mark`, if it was done: {passed,
-- dependents, status, id}; else nil. (Most steps follow the one the marker says: its number
-- is read alone, without a pattern's captures, strings each.)
local function done_before(mark, seq)
  if not mark then return nil end
  local colon = string.find(mark, ':', 1, true)
  local last = colon and string.sub(mark, 1, colon - 1)
  -- numbers compared as text (tonumber is strtod): the longer is the larger, else the later
  if not last or #last < #seq or (#last == #seq and last < seq) then return nil end
  local done, passed, dependents, status, taken = string.match(mark, '^(%d+):(%d?):(%d?):(%a*):(.*)$')
  if done then return {passed, dependents, status, taken} end
  return nil
end

local function mark_done(marker, seq, passed, dependents, status, taken)
  rcall('SET', marker, seq .. ':' .. passed .. ':' .. dependents .. ':' .. status .. ':' .. (taken or ''), 'EX',
    C.STEP_TTL)
end
