-- A worker's steps are numbered (ARGV[1]); the last one done is kept in its step marker
-- (KEYS[1], for C.STEP_TTL seconds), so that a step sent again after a lost reply is
-- answered from it, not done twice. The marker holds 'seq:passed:dependents:status:id'.

local function done_before()
  local mark = redis.call('GET', KEYS[1])
  if not mark then return nil end
  local seq, passed, dependents, status, taken = string.match(mark, '^(%d+):(%d?):(%d?):(%a*):(.*)$')
  if seq and tonumber(seq) >= tonumber(ARGV[1]) then
    return {passed, dependents, status, taken}
  end
  return nil
end

local function mark_done(passed, dependents, status, taken)
  local mark = table.concat({ARGV[1], passed, dependents, status, taken or ''}, ':')
  redis.call('SET', KEYS[1], mark, 'EX', C.STEP_TTL)
end
