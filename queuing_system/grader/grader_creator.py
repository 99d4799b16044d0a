"""The grader's creator, a partner known to be right for a student's processor.

Run as a file in a sandbox of its own: `python grader_creator.py SPEC`, SPEC a JSON object
{"queue", "function", "serializer": "json" | "pickle", "calls": [[args, kwargs], ...]}. It
puts the exercise's jobs on the exercise's queue, in the order given, in the shape the
student's own creator gives its jobs (jobshape.py), prints the exercise's created line for
each, and exits. RQ's enqueue_call and nothing else: what happens to the jobs is for the
processor, and the grader reads it from Redis.
"""

import json
import os
import sys

from redis import Redis
from rq import Queue
from rq.serializers import DefaultSerializer, JSONSerializer


def main(argv):
    spec = json.loads(argv[0])
    serializer = JSONSerializer if spec["serializer"] == "json" else DefaultSerializer
    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue(spec["queue"], connection=connection, serializer=serializer)
    for args, kwargs in spec["calls"]:
        job = queue.enqueue_call(spec["function"], args=args, kwargs=kwargs)
        print(f"Notification job created: {job.id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
