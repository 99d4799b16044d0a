-- Events on a queue's stream, as events.emit writes them (their fields come from it).

-- An event on a queue's stream (capped at about C.EVENTS_KEPT entries): ARGV[i] is the
-- number of its fields and values, which follow. Returns the index after them.
local function add_event(stream, i)
  local count = tonumber(ARGV[i])
  redis.call('XADD', stream, 'MAXLEN', '~', C.EVENTS_KEPT, '*', unpack(ARGV, i + 1, i + count))
  return i + 1 + count
end

-- ARGV[i] events, each as add_event reads it. Returns the index after them.
local function add_events(stream, i)
  local count = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, count do i = add_event(stream, i) end
  return i
end
