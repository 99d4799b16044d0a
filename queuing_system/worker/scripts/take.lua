-- take: take the next job (or the one a blocking move took) and start it.
--
-- KEYS[1..6] and ARGV[1..7] as finish.lua says.
-- Returns the job's values then {'', '', status, id}.

--! include end.lua

local mark = rcall('MGET', KEYS[1], C.SUSPENDED_KEY)
local again = done_before(mark[1], ARGV[1])
if again then return taken_reply('', '', again[3], again[4]) end
return and_take(KEYS[1], ARGV[1], '', '', ARGV[3], mark[2], ARGV[4], KEYS[2], KEYS[3], KEYS[4],
  KEYS[5], KEYS[6], ARGV[2], ARGV[5], ARGV[6], ARGV[7])
