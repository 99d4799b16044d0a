"""The students' ports of tests/ports/, graded as one class, each getting the verdict it should.

The class is graded twice, once by the exercise (the default) and once by the SPEC
(--strict), each run in one command as an educator would, every script in its sandbox;
every test below reads its verdicts from the JSON report (and the JUnit one) of those
runs. Around the default run the machine holds what a clever student would want: a
secret in the educator's environment, a root-only file, a Unix socket, a file beside
the report for a planted link to overwrite; the hostile ports reach for them all.
"""

import concurrent.futures
import hashlib
import json
import os
import re
import socket
import threading
import uuid
import xml.etree.ElementTree as ElementTree

import pytest

from queuing_system.grader.sandbox import sandbox_works

from .grading import DAEMON, PORTS, ROOT, daemons_left, grade, headlines, once_per_run, verdicts

ALL_TASKS = range(14)
SANDBOXED = sandbox_works(True)
pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not SANDBOXED, reason="bwrap cannot sandbox here (see tests/grader/test_isolation.py)"
    ),
]


def files_of(folder):
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


class Bait:
    """What a hostile port reaches for, and what it got."""

    def __init__(self, where):
        token = uuid.uuid4().hex
        self.secret = f"secret-{token}"
        self.canary = f"/tmp/queuing-grader-canary-{token}"
        with open(os.open(self.canary, os.O_CREAT | os.O_WRONLY, 0o600), "w") as canary:
            canary.write(f"root-only {token}\n")
        self.victim = where / "victim.txt"
        self.victim.write_text("not a report\n")
        self.socket_path = f"/tmp/queuing-grader-host-{token}.sock"
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.socket_path)
        self.server.listen(16)
        self.reached = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.reached += 1
            connection.close()

    def close(self):
        self.server.close()
        for path in (self.canary, self.socket_path):
            if os.path.exists(path):
                os.unlink(path)


def marks_left():
    """The files writes_the_grader managed to leave (removed here, so that a failure
    leaves the repository clean)."""
    found = [str(path) for path in ROOT.rglob("PWNED_BY_A_PORT")]
    for path in found:
        os.unlink(path)
    return found


def graded_class(where, *options, env=None, measure=False):
    where.mkdir(parents=True, exist_ok=True)
    report = where / "class"
    done = grade("--dir", PORTS, "--jobs", 2, *options, "--report", report, env=env, measure=measure)
    done.xml = str(where / "class.xml")
    done.report_files = [os.path.islink(f"{report}{ending}") for ending in (".json", ".xml")]
    return done


def both_runs(where):
    """The class by the exercise (around the bait) and by the SPEC, side by side."""
    before = files_of(PORTS)
    (where / "default").mkdir(parents=True, exist_ok=True)
    bait = Bait(where / "default")
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            default = pool.submit(
                graded_class, where / "default", env={"GRADER_SECRET_TOKEN": bait.secret}, measure=True
            )
            strict = pool.submit(graded_class, where / "strict", "--strict")
            runs = {"default": default.result(), "strict": strict.result()}
        run = runs["default"]
        run.secret, run.canary = bait.secret, open(bait.canary).read()
        run.socket_reached, run.victim = bait.reached, bait.victim.read_text()
    finally:
        bait.close()
    run.files_before, run.files_after = before, files_of(PORTS)
    run.marks, run.daemons = marks_left(), daemons_left()
    return runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return once_per_run(tmp_path_factory, "corpus", both_runs)


@pytest.fixture
def default_run(runs):
    return runs["default"]


@pytest.fixture
def strict_run(runs):
    return runs["strict"]


def passed(run, port):
    return sorted(
        number
        for (name, number), task in verdicts(run.report).items()
        if name == port and task["verdict"] == "PASS"
    )


def task_of(run, port, number):
    return verdicts(run.report)[(port, number)]


def test_the_class_is_graded_in_one_command_with_a_table_and_an_exit_code_that_tells(default_run):
    assert default_run.returncode == 1, default_run.stderr
    table = default_run.stdout[default_run.stdout.index("\nstudent ") + 1 :].splitlines()
    ports = sorted(path.name for path in PORTS.iterdir() if path.is_dir())
    assert table[0].split() == ["student", *map(str, ALL_TASKS), "passed"]
    assert [row.split()[0] for row in table[1 : len(ports) + 1]] == ports
    assert table[len(ports) + 1].startswith(f"{len(ports)} ports, ")
    assert table[len(ports) + 2].startswith("Reports: ")
    assert "Traceback" not in default_run.stderr
    assert not re.search(
        "^Traceback", default_run.stdout, re.MULTILINE
    )  # a script's, in its stderr tail, only
    assert "not sandboxed" not in default_run.stdout
    assert default_run.report["sandboxed"] is True


def test_the_junit_report_has_a_suite_per_port_and_a_case_per_task(default_run):
    report = default_run.report
    suites = ElementTree.parse(default_run.xml).getroot().findall("testsuite")
    assert [suite.get("name") for suite in suites] == [port["name"] for port in report["ports"]]
    for suite, port in zip(suites, report["ports"], strict=True):
        assert len(suite.findall("testcase")) == 14
        failed = [task for task in port["tasks"] if task["verdict"] == "FAIL"]
        assert int(suite.get("failures")) == len(failed)
        assert [
            case.find("failure").get("message") for case in suite if case.find("failure") is not None
        ] == [task["problems"][0]["headline"] for task in failed]


def test_nothing_is_left_running_no_port_file_changed_and_memory_stays_small(default_run, strict_run):
    assert default_run.left == [] and strict_run.left == []
    assert default_run.temporary == [] and strict_run.temporary == []
    assert default_run.daemons == []  # tests/ports/daemon's, though its environment told nothing
    assert default_run.files_after == default_run.files_before
    # The hostile port prints 1 GiB: the grader reads 1 MiB of it and stays small.
    assert default_run.max_rss_kb < 300_000
    assert len(default_run.stdout) < 400_000


# Correct ports, in several styles


def test_a_textbook_port_passes_every_task_with_advice_on_what_the_spec_asks_more(default_run):
    assert passed(default_run, "textbook") == list(ALL_TASKS)
    advice = {number: " ".join(task_of(default_run, "textbook", number)["advice"]) for number in ALL_TASKS}
    assert "printed 11 other lines on stdout" in advice[7]  # RQ's worker logs to stdout
    assert "a newline after each body (jsonify adds one)" in advice[12]
    assert "keys in another order (Flask sorts them" in advice[12]
    assert "exited -15 on SIGTERM" in advice[12]
    assert "\" * Serving Flask app '9_stock'\"" in advice[12]  # Flask's banner
    assert "with pickle (RQ's default serializer)" in advice[6]  # advice, now that pickle runs sandboxed
    assert not advice[10]  # any job function, RQ's own ids, JSON: the exercise's


def test_a_textbook_port_fails_strict_where_it_is_not_the_spec(strict_run):
    assert passed(strict_run, "textbook") == [0, 1, 2, 3, 4, 5, 11]
    task_6 = headlines(task_of(strict_run, "textbook", 6))
    assert len(task_6) == 2
    assert "the spec's are Kue's, integers from one counter" in task_6[0]
    assert "with pickle (RQ's default serializer)" in task_6[1]
    body = task_of(strict_run, "textbook", 12)["problems"][2]  # /list_products/12
    assert body["headline"] == "GET /list_products/12: the body is not the spec's, byte for byte:"
    assert body["details"][3:5] == ['-{"status":"Product not found"}', '+{"status":"Product not found"}\\n']


def test_an_rq_port_with_its_own_event_mechanism_passes_and_fails_strict_on_its_ids_and_arguments(
    default_run, strict_run
):
    assert passed(default_run, "rq_polling") == [6, 7, 8, 9]
    assert all(not task_of(default_run, "rq_polling", number)["advice"] for number in (6, 7, 8, 9))
    assert passed(strict_run, "rq_polling") == [7, 9]
    for number in (6, 8):
        ids, arguments = headlines(task_of(strict_run, "rq_polling", number))
        assert ": the spec's are Kue's, integers from one counter shared by every queue (" in ids
        assert "jobs take other arguments than the spec's one dict" in arguments


def test_a_port_of_rq_defaults_streams_and_rq_worker_pool_passes_every_task_it_has(default_run):
    # pickle everywhere, keyword arguments, results waited on RQ's results stream, events on
    # a stream of its own, `rq worker-pool` by exec, Flask's app.run
    assert passed(default_run, "streams_and_exec") == list(range(6, 14))
    assert "with pickle (RQ's default serializer)" in " ".join(
        task_of(default_run, "streams_and_exec", 10)["advice"]
    )
    assert "as 7_job_creator.py's jobs are: 7_job_processor.process_job, pickle" in "\n".join(
        task_of(default_run, "streams_and_exec", 9)["transcript"]
    )


def test_a_port_that_hard_codes_localhost_6379_is_graded_fairly_in_its_sandbox(default_run):
    assert passed(default_run, "hardcoded_6379") == [1, 2, 4, 5]


def test_pickle_is_advice_by_default_and_a_failure_under_strict(default_run, strict_run):
    assert passed(default_run, "pickle_task10") == [10]
    advice = task_of(default_run, "pickle_task10", 10)["advice"]
    assert advice[0].startswith("8_job.py stores its jobs on push_notification_code_3 with pickle")
    [line] = [line for line in headlines(task_of(strict_run, "pickle_task10", 10)) if "pickle" in line]
    assert line.startswith(
        "8_job.py stores its jobs on push_notification_code_3 with pickle (RQ's default serializer)"
    )
    assert "serializer=JSONSerializer" in line


def test_a_port_of_some_tasks_only_is_graded_on_what_it_has(default_run):
    assert passed(default_run, "flask_only") == [12, 13]
    assert headlines(task_of(default_run, "flask_only", 0)) == ["missing dump.rdb"]
    assert headlines(task_of(default_run, "flask_only", 1)) == ["missing 0_redis_client.py"]
    assert headlines(task_of(default_run, "flask_only", 5)) == [
        "missing 5_subscriber.py",
        "missing 5_publisher.py",
    ]


def test_every_missing_file_fails_its_task_alone(default_run):
    for (name, number), task in verdicts(default_run.report).items():
        missing = [line for line in headlines(task) if line.startswith("missing ")]
        assert not missing or missing == headlines(task), (name, number)


# Mistakes, each failing the file that made it


def test_a_broken_failure_message_fails_the_processors_task_not_the_creators(default_run):
    assert passed(default_run, "blacklist_typo") == [8]
    task_9 = task_of(default_run, "blacklist_typo", 9)
    assert headlines(task_9) == [
        "7_job_processor.py fails the blacklisted jobs with another message than the exercise's:"
    ]
    assert task_9["problems"][0]["details"][0].endswith(
        ": 'Phone number 4153518780 is blacklisted!', expected 'Phone number 4153518780 is blacklisted'"
    )


def test_ids_that_are_not_the_jobs_are_said_in_one_line(default_run):
    assert passed(default_run, "wrong_ids") == [9]
    [line] = headlines(task_of(default_run, "wrong_ids", 8))
    assert line.startswith(
        "7_job_creator.py prints ids that are not its jobs' (1, 2, 3, ...); the jobs it made on "
    )
    assert line.endswith(": print job.id.")


def test_a_creator_on_another_queue_fails_its_own_task_at_once_naming_the_queue(default_run):
    task_6 = task_of(default_run, "wrong_queue_creator", 6)
    assert headlines(task_6) == [
        "6_job_creator.py's job is on push_notification, not on push_notification_code."
    ]
    assert task_6["seconds"] < 15  # no wait for outcomes that cannot come
    assert passed(default_run, "wrong_queue_creator") == [7]  # its processor, beside the grader's creator


def test_a_creator_and_processor_agreeing_on_the_wrong_queue_both_fail(default_run):
    assert headlines(task_of(default_run, "shared_wrong_queue", 6)) == [
        "6_job_creator.py's job is on push_notification, not on push_notification_code."
    ]
    assert headlines(task_of(default_run, "shared_wrong_queue", 7)) == [
        "6_job_processor.py left 1 of the 1 jobs on push_notification_code unfinished (queued); its RQ "
        "workers served push_notification."
    ]


def test_a_processors_progress_is_judged_from_what_it_wrote_not_from_a_polling_creator(default_run):
    assert passed(default_run, "polling_misses_progress") == [9]  # it saved 0, then 50, in each job's meta
    [line] = headlines(task_of(default_run, "polling_misses_progress", 8))
    assert "7_job_creator.py's lines for" in line and "differ from what happened to them" in line
    assert "what each job's function reported, as Redis ran it" in line


def test_a_pool_whose_second_worker_starts_late_is_seen_processing_two_at_a_time(default_run, strict_run):
    # Its first worker alone could take all 11 jobs before the second is up: the jobs come
    # once both serve the queue (the textbook's WorkerPool failed so on a loaded machine).
    assert passed(default_run, "slow_pool") == [8, 9]
    assert passed(strict_run, "slow_pool") == [9]


def test_a_publisher_whose_messages_reach_no_subscriber_is_named(default_run):
    assert headlines(task_of(default_run, "wrong_channel_publisher", 5)) == [
        "5_publisher.py published to holberton_school_channel: 0 subscribers. The exercise's channel is "
        "'holberton school channel'."
    ]


def test_a_seat_app_that_stops_processing_after_the_first_reservations_fails(default_run):
    [line] = headlines(task_of(default_run, "seat_burst_process", 13))
    assert line.startswith(
        "waited 20s for 100_seat.py to print 4 `Seat reservation job JOB_ID completed` lines"
    )
    assert "made after GET /process" in line


def test_a_seat_app_that_never_blocks_reservations_fails_at_the_51st(default_run):
    task = task_of(default_run, "seat_never_blocks", 13)
    assert headlines(task) == ["GET /reserve_seat answered other JSON than the exercise's:"]
    assert '-{"status":"Reservation are blocked"}' in task["problems"][0]["details"]
    assert (
        "(every seat is taken: reservations are disabled when the seats reach 0)"
        in task["problems"][0]["details"]
    )


def test_an_app_on_the_wrong_port_fails_at_once_naming_the_ports(default_run):
    task = task_of(default_run, "wrong_port", 12)
    assert headlines(task)[0] == (
        "9_stock.py listens on 127.0.0.1:5000, not on PORT=1245: read the port from the PORT environment "
        "variable (default 1245)."
    )
    assert "   * Running on http://127.0.0.1:5000" in task["problems"][0]["details"]  # its stderr, after
    assert task["seconds"] < 10


def test_a_test_file_without_tests_and_a_missing_one_are_said_so(default_run):
    assert passed(default_run, "no_tests") == [10]
    assert headlines(task_of(default_run, "no_tests", 11)) == [
        "no tests found in tests/test_8_job.py: pytest runs the functions named test_* of files "
        "named test_*.py."
    ]
    assert headlines(task_of(default_run, "flask_only", 11)) == ["missing tests/test_8_job.py"]


# Hostile ports: none changes its own verdict or anyone else's, none reads or writes outside
# its scratch folder


def test_hostile_scripts_fail_their_own_task_and_the_grader_carries_on(default_run, strict_run):
    hostile = {number: task_of(default_run, "hostile", number) for number in ALL_TASKS}
    assert headlines(hostile[1]) == ["0_redis_client.py was killed by SIGTERM (exit -15)."]  # os.killpg(0)
    assert headlines(hostile[2])[0].startswith(
        "1_redis_op.py printed over 1 MiB on stdout, the most the grader"
    )
    assert hostile[3]["verdict"] == "PASS"  # its setsid daemon: advice by default, a failure under --strict
    assert hostile[3]["advice"][0].startswith("2_redis_op_async.py left 1 process running after it ended (")
    assert headlines(task_of(strict_run, "hostile", 3))[0].startswith(
        "2_redis_op_async.py left 1 process running"
    )
    # Its publisher's CONFIG SET maxmemory 1mb and FLUSHALL reach no other task.
    assert passed(default_run, "hostile") == [3, 4, 5, 12]


def test_a_port_that_forges_its_grade_gets_its_own(default_run):
    assert passed(default_run, "forges_its_grade") == []
    [port] = [port for port in default_run.report["ports"] if port["name"] == "forges_its_grade"]
    assert port["error"] == ""
    # Its kill of its parent: refused (PermissionError) where the grader runs as root, lost
    # elsewhere (the sandbox's PID 1 takes no signal from inside); its lines are its own.
    assert "0_redis_client.py's stdout differs from the exercise's:" in headlines(
        task_of(default_run, "forges_its_grade", 1)
    )


def test_a_script_that_kills_its_grader_fails_its_own_task_alone(default_run):
    assert passed(default_run, "kills_its_parent") == [1, 4]
    assert "1_redis_op.py's stdout differs from the exercise's:" in headlines(
        task_of(default_run, "kills_its_parent", 2)
    )
    assert [port["error"] for port in default_run.report["ports"] if port["name"] == "kills_its_parent"] == [
        ""
    ]


def test_a_port_reads_nothing_of_other_ports_the_machine_or_the_educator(default_run):
    assert passed(default_run, "reads_other_ports") == [1]
    text = json.dumps(default_run.report)
    assert "stolen:" not in text
    assert default_run.secret not in text
    assert default_run.canary and default_run.canary.strip() not in text


def test_a_port_writes_nothing_outside_its_scratch_folder(default_run):
    assert passed(default_run, "writes_the_grader") == [1]
    assert default_run.marks == []  # not in the grader's package, another port, or beside dump.rdb
    assert "wrote:" not in json.dumps(default_run.report)


def test_a_link_planted_at_the_report_path_is_never_followed(default_run):
    assert passed(default_run, "plants_a_report_link") == [1]
    assert default_run.report_files == [False, False]
    assert default_run.victim == "not a report\n"


def test_a_port_reaches_no_unix_socket_of_the_machine(default_run):
    assert passed(default_run, "host_socket") == [1]
    assert default_run.socket_reached == 0
    assert "reached:" not in json.dumps(default_run.report)


def test_a_port_cannot_take_4_gib(default_run):
    assert headlines(task_of(default_run, "four_gib", 1))[0] == "0_redis_client.py exited 1: MemoryError"


def test_a_daemon_left_by_a_script_is_said_and_dies_with_its_sandbox(default_run):
    task = task_of(default_run, "daemon", 3)
    assert task["verdict"] == "PASS"
    assert task["advice"][0].startswith("2_redis_op_async.py left 1 process running after it ended (")
    assert DAEMON in task["advice"][0]
    assert default_run.daemons == []
