-- take: take the next job (or the one a blocking move took) and start it.
--
-- KEYS[1] step marker (queuing:step:W), then KEYS[2..7] as include/take.lua says.
-- ARGV[1] step number, then ARGV[2..8] as include/take.lua says.
-- Returns {'', '', status, id or false, hash or false}.

--! include step.lua
--! include take.lua

local again = done_before()
if again then return taken_reply('', '', again[3], again[4]) end
local status, id, fields = take_and_start()
mark_done('', '', status, id)
return taken_reply('', '', status, id, fields)
