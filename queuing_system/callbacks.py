"""Where the RQ callbacks of a job's outcome lived until they became EventFollower's own
(follower.py). Jobs queued then name `queuing_system.callbacks.report_success` and
`report_failure`; any RQ worker, RQ's own included (it imports what a job names), still
finds them here. New jobs name EventFollower's, and our workers read these names as those.
"""

from .follower import EventFollower

report_success = EventFollower.report_success
report_failure = EventFollower.report_failure
