"""A processor's progress read from what it wrote (monitor.py), and a port's job shape
(jobshape.py): the grader's reading of Redis and of a port's files, without a port running."""

import json
import pickle

from queuing_system.grader.evidence import JSON, PICKLE, SeenJob
from queuing_system.grader.jobshape import from_job, from_source
from queuing_system.grader.monitor import monitor_arguments, progress_reports


def line(*arguments, client=b"127.0.0.1:5000"):
    """A MONITOR line as Redis writes it: each argument quoted, its bytes escaped."""

    def quoted(value):
        shown = "".join(
            chr(byte) if 32 <= byte < 127 and byte not in (34, 92) else f"\\x{byte:02x}" for byte in value
        )
        return f'"{shown}"'.encode()

    return b"1700000000.000001 [0 " + client + b"] " + b" ".join(quoted(argument) for argument in arguments)


def test_a_monitor_line_is_read_back_into_its_arguments_whatever_bytes_they_hold():
    arguments = [b"HSET", b"rq:job:1", b"meta", pickle.dumps({"progress": 50}), b'say "hi"\\ \n']
    assert monitor_arguments(line(*arguments)) == arguments
    assert monitor_arguments(b'1.0 [0 lua] "hset" "k" "v\\"\\\\\\n"') == [b"hset", b"k", b'v"\\\n']


def commands(*lines):
    return [monitor_arguments(each) for each in lines]


def test_progress_saved_in_a_jobs_meta_as_json_or_pickle_is_read_in_order_without_repeats():
    seen = commands(
        line(b"HSET", b"rq:job:a", b"meta", json.dumps({"progress": 0}).encode()),
        line(b"HSET", b"rq:job:b", b"meta", pickle.dumps({"progress": 0})),
        line(b"HSET", b"rq:job:a", b"status", b"started", b"meta", json.dumps({"progress": 0}).encode()),
        line(b"HSET", b"rq:job:a", b"meta", json.dumps({"progress": 50}).encode()),
        line(b"HSET", b"rq:job:c", b"meta", json.dumps({"progress": 50}).encode()),  # not one of ours
    )
    assert progress_reports(seen, ["a", "b"]) == {"a": [0, 50], "b": [0]}


def test_progress_told_as_events_published_streamed_or_printed_is_read_too():
    seen = commands(
        line(b"PUBLISH", b"events", json.dumps({"job": "a", "kind": "progress", "progress": 0}).encode()),
        line(
            b"XADD",
            b"queuing:events:q",
            b"MAXLEN",
            b"~",
            b"100000",
            b"*",
            b"job",
            b"b",
            b"event",
            b"progress",
            b"progress",
            b"50",
        ),
        line(b"XADD", b"queuing:events:q", b"*", b"job", b"b", b"event", b"completed"),
        line(b"PUBLISH", b"lines", b"Notification job c 50% complete"),
        line(b"PUBLISH", b"events", json.dumps({"job": "a", "kind": "completed"}).encode()),
    )
    assert progress_reports(seen, ["a", "b", "c", "d"]) == {"a": [0], "b": [50], "c": [50], "d": []}


def test_where_meta_and_events_both_tell_the_one_that_told_more_wins():
    seen = commands(
        line(b"XADD", b"s", b"*", b"job", b"7", b"event", b"progress", b"progress", b"0"),
        line(b"XADD", b"s", b"*", b"job", b"7", b"event", b"progress", b"progress", b"50"),
        line(b"HSET", b"rq:job:7", b"meta", json.dumps({"progress": 50}).encode()),  # saved once, at the end
    )
    assert progress_reports(seen, ["7"]) == {"7": [0, 50]}


def test_progress_an_event_says_came_before_it_is_read_before_its_own():
    # A worker that sends a job's progress with its next write (our worker: with its end)
    # tells 0 and 50 in the entry of its outcome.
    seen = commands(
        line(b"XADD", b"s", b"*", b"job", b"7", b"event", b"completed", b"created", b"", b"before", b"0 50"),
        line(b"XADD", b"s", b"*", b"job", b"8", b"event", b"progress", b"progress", b"50", b"before", b"0"),
        line(
            b"XADD", b"s", b"*", b"job", b"9", b"event", b"failed", b"before", b"0", b"error", b"blacklisted"
        ),
    )
    assert progress_reports(seen, ["7", "8", "9"]) == {"7": [0, 50], "8": [0, 50], "9": [0]}


def test_a_jobs_shape_keeps_its_function_serializer_and_call_with_the_data_in_its_places():
    job = SeenJob("1", function="jobs.notify", serializer=PICKLE, readable=True)
    job.kwargs = {"phone_number": "4153518780", "message": "hello", "retries": 2}
    shape = from_job(job, "6_job_creator.py's jobs")
    assert (shape.function, shape.serializer) == ("jobs.notify", PICKLE)
    assert shape.call("1", "m") == ([], {"phone_number": "1", "message": "m", "retries": 2})
    job = SeenJob("2", function="7_job_processor.process", serializer=JSON, readable=True)
    job.args = [{"phoneNumber": "4153518780", "message": "hello"}]
    assert from_job(job, "x").call("1", "m") == ([{"phoneNumber": "1", "message": "m"}], {})


def test_a_processors_file_tells_its_job_function_when_no_job_does(tmp_path):
    processor = tmp_path / "7_job_processor.py"
    processor.write_text(
        "from rq.serializers import JSONSerializer\n"
        "def send_notification(phone_number, message, job):\n    pass\n"
        "def _helper(data):\n    pass\n"
        "def process_notification(data):\n    pass\n"
    )
    shape = from_source(processor, "7_job_processor")
    assert (shape.function, shape.serializer) == ("7_job_processor.process_notification", JSON)
    assert shape.call("1", "m") == ([{"phoneNumber": "1", "message": "m"}], {})
    processor.write_text("def send_notification(phone_number, message):\n    pass\n")
    shape = from_source(processor, "6_job_processor")
    assert (shape.function, shape.serializer) == ("6_job_processor.send_notification", PICKLE)
    assert shape.call("1", "m") == (["1", "m"], {})
    processor.write_text("x = 1\n")
    assert from_source(processor, "6_job_processor") is None


def test_what_the_watch_has_seen_includes_every_write_before_the_look_however_late_it_reads(redis_url):
    # A busy machine reads MONITOR's lines late: the processor's last progress (written just
    # before it stopped) was missed, and a correct port failed task 9 (seen under CPU hogs).
    import time

    import redis

    from queuing_system.grader.monitor import CommandWatch

    class LateWatch(CommandWatch):
        def read(self):
            read_response = self.connection.read_response

            def late(*args, **kwargs):
                time.sleep(0.2)
                return read_response(*args, **kwargs)

            self.connection.read_response = late
            super().read()

    watch = LateWatch(redis_url)
    try:
        client = redis.Redis.from_url(redis_url)
        for percent in (0, 50, 100):
            client.hset("rq:job:7", "meta", json.dumps({"progress": percent}))
        assert progress_reports(watch.seen(), ["7"]) == {"7": [0, 50, 100]}
    finally:
        watch.close()
