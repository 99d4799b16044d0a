-- move_entry: an entry moved from one list to another in one step, by whoever finds it
-- first: a retried LREM that Redis had already done would answer 0, and the entry be in
-- neither.
--
-- KEYS[1] from                              KEYS[2] to
-- ARGV[1] the entry                         ARGV[2] LPUSH (to the front) or RPUSH
-- Returns 1 if it was moved.

if rcall('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
rcall(ARGV[2], KEYS[2], ARGV[1])
return 1
