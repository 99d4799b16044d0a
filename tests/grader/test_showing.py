"""What a verdict is made of: diffs where nothing is invisible, JSON compared as JSON, job
data read from Redis without running any of it."""

import os
import pickle

import pytest

from queuing_system.grader import diffs
from queuing_system.grader.app_tasks import same_json
from queuing_system.grader.evidence import JSON, PICKLE, decode, error_message


@pytest.mark.parametrize(
    "text, shown",
    [
        ("Reply: OK", "Reply: OK"),
        ("Reply: OK  ", "Reply: OK··"),
        ("Reply:\tOK\r", "Reply:\\tOK\\r"),
        ("zero\u200bwidth\x1b[31m", "zero\\u200bwidth\\x1b[31m"),
    ],
)
def test_invisible_characters_are_written_out(text, shown):
    assert diffs.visible(text) == shown


def test_a_body_that_differs_by_its_trailing_newline_shows_it_with_a_legend():
    diff = diffs.unified(diffs.body_lines('{"a":1}'), diffs.body_lines('{"a":1}\n'))
    assert diff[3:] == ['-{"a":1}', '+{"a":1}\\n', diffs.LEGEND]


def test_a_long_json_list_is_shown_one_item_a_line():
    body = "[" + ",".join(f'{{"itemId":{n},"itemName":"Suitcase {n}50"}}' for n in range(1, 6)) + "]"
    lines = diffs.body_lines(body)
    assert len(lines) == 5
    assert "".join(lines) == body


def test_lines_in_any_order_show_what_is_missing_beside_what_came_instead():
    diff = diffs.unordered(["a", "Sending to 1", "b"], ["b", "Sendin to 1", "a", "log line"])
    assert diff == [
        "--- expected (in any order)",
        "+++ got",
        " a",
        "-Sending to 1",
        "+Sendin to 1",
        " b",
        "+log line",
    ]
    assert diffs.unordered(["a", "b"], ["b", "a"]) == []


def test_a_stderr_tail_is_trimmed_and_has_no_ansi_colours():
    stderr = "\n".join(["first", "", *(f"\x1b[31mline {n}\x1b[0m" for n in range(20))])
    tail = diffs.tail(stderr, lines=3)
    assert tail == ["… (18 lines before)", "line 17", "line 18", "line 19"]


def test_json_bodies_are_equal_as_values_but_true_is_not_1():
    assert same_json({"a": 1, "b": [1.0, "x"]}, {"b": [1, "x"], "a": 1})
    assert not same_json({"a": True}, {"a": 1})
    assert not same_json({"n": "50"}, {"n": 50})


def test_job_data_is_read_as_json_or_plain_pickle():
    assert decode(b'["f", null, [{"a": 1}], {}]') == (JSON, ["f", None, [{"a": 1}], {}])
    assert decode(pickle.dumps(("f", None, ({"a": 1},), {}))) == (PICKLE, ("f", None, ({"a": 1},), {}))


class Hostile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def test_a_pickle_that_names_code_is_refused_and_nothing_of_it_runs(tmp_path):
    made = tmp_path / "ran"
    assert decode(pickle.dumps(Hostile(made))) == (PICKLE, None)
    assert not made.exists()


def test_a_jobs_failure_message_is_the_last_line_of_its_traceback():
    traceback = (
        'Traceback (most recent call last):\n  File "x.py", line 1\n'
        "queuing_system.jobs.JobFailed: Phone number 4153518780 is blacklisted\n"
    )
    assert error_message(traceback) == "Phone number 4153518780 is blacklisted"
    assert error_message("Exception: a: b") == "a: b"
