"""The students' ports of tests/ports/, graded as one class, each getting the verdict it should.

The class is graded twice, once by the exercise (the default) and once by the SPEC
(--strict), each run in one command as an educator would; every test below reads its
verdicts from the JSON report (and the JUnit one) of those runs.
"""

import concurrent.futures
import hashlib
import xml.etree.ElementTree as ElementTree

import pytest

from queuing_system.grader.isolation import namespaces_work

from .grading import PORTS, grade, headlines, once_per_run, verdicts

ALL_TASKS = range(14)
NAMESPACED = namespaces_work(network=True)


def files_of(folder):
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def graded_class(where, *options, measure=False):
    where.mkdir(parents=True, exist_ok=True)
    done = grade("--dir", PORTS, "--jobs", 2, *options, "--report", where / "class", measure=measure)
    done.xml = str(where / "class.xml")
    return done


def both_runs(where):
    """The class by the exercise and by the SPEC, graded side by side."""
    before = files_of(PORTS)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        default = pool.submit(graded_class, where / "default", measure=True)
        strict = pool.submit(graded_class, where / "strict", "--strict")
        runs = {"default": default.result(), "strict": strict.result()}
    runs["default"].files_before, runs["default"].files_after = before, files_of(PORTS)
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
    assert "Traceback" not in default_run.stdout + default_run.stderr


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


def test_nothing_is_left_running_no_port_file_changed_and_memory_stays_small(default_run):
    assert default_run.left == []
    assert default_run.files_after == default_run.files_before
    # The hostile port prints 1 GiB: the grader reads 1 MiB of it and stays small.
    assert default_run.max_rss_kb < 300_000
    assert len(default_run.stdout) < 300_000


def test_a_textbook_port_passes_every_task_with_advice_on_what_the_spec_asks_more(default_run):
    assert passed(default_run, "textbook") == list(ALL_TASKS)
    advice = {number: " ".join(task_of(default_run, "textbook", number)["advice"]) for number in ALL_TASKS}
    assert "printed 11 other lines on stdout" in advice[7]  # RQ's worker logs to stdout
    assert "a newline after each body (jsonify adds one)" in advice[12]
    assert "keys in another order (Flask sorts them" in advice[12]
    assert "exited -15 on SIGTERM" in advice[12]
    assert "\" * Serving Flask app '9_stock'\"" in advice[12]  # Flask's banner
    assert not advice[10] and not advice[6]  # any job function, RQ's own ids: the exercise's


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


def test_a_port_that_hard_codes_localhost_6379_is_graded_fairly_where_it_can_be(default_run):
    if NAMESPACED:
        assert passed(default_run, "hardcoded_6379") == [1, 2, 4, 5]
    else:  # told in one line, per script (tests/grader/test_isolation.py grades it so everywhere)
        for number in (1, 2, 4):
            assert any(
                "REDIS_URL" in line for line in headlines(task_of(default_run, "hardcoded_6379", number))
            )


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


def test_pickle_where_json_is_needed_is_said_in_one_line(default_run):
    [line] = headlines(task_of(default_run, "pickle_task10", 10))
    assert line.startswith(
        "8_job.py stores its jobs on push_notification_code_3 with pickle (RQ's default serializer)"
    )
    assert "serializer=JSONSerializer" in line


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


def test_a_port_of_some_tasks_only_is_graded_on_what_it_has(default_run):
    assert passed(default_run, "flask_only") == [12, 13]
    assert headlines(task_of(default_run, "flask_only", 0)) == ["missing dump.rdb"]
    assert headlines(task_of(default_run, "flask_only", 1)) == ["missing 0_redis_client.py"]
    assert headlines(task_of(default_run, "flask_only", 5)) == [
        "missing 5_subscriber.py",
        "missing 5_publisher.py",
    ]


def test_hostile_scripts_fail_their_own_task_and_the_grader_carries_on(default_run, strict_run):
    hostile = {number: task_of(default_run, "hostile", number) for number in ALL_TASKS}
    assert headlines(hostile[1]) == [
        "0_redis_client.py was killed by SIGTERM (exit -15)."
    ]  # its os.killpg(0)
    assert headlines(hostile[2])[0].startswith(
        "1_redis_op.py printed over 1 MiB on stdout, the most the grader"
    )
    assert (
        hostile[3]["verdict"] == "PASS"
    )  # its setsid daemon is advice by default, killed, a failure under --strict
    assert hostile[3]["advice"][0].startswith(
        "2_redis_op_async.py left 1 process running after it ended (pid "
    )
    assert headlines(task_of(strict_run, "hostile", 3))[0].startswith(
        "2_redis_op_async.py left 1 process running"
    )
    # Its publisher's CONFIG SET maxmemory 1mb and FLUSHALL reach no other task.
    assert passed(default_run, "hostile") == [3, 4, 5, 12]


def test_a_script_that_kills_the_graders_process_fails_its_task_and_ends_that_port_only(default_run):
    assert passed(default_run, "kills_its_parent") == [1]
    assert headlines(task_of(default_run, "kills_its_parent", 2)) == [
        "the grader's process for this port was killed by SIGKILL while it ran this task: does 1_redis_op.py "
        "signal its parent process (os.getppid())?"
    ]
    assert headlines(task_of(default_run, "kills_its_parent", 4)) == [
        "not graded: its grading was killed by SIGKILL in task 2"
    ]
    assert [port["error"] for port in default_run.report["ports"] if port["name"] == "kills_its_parent"] == [
        "its grading was killed by SIGKILL in task 2"
    ]


def test_every_missing_file_fails_its_task_alone(default_run):
    for (name, number), task in verdicts(default_run.report).items():
        missing = [line for line in headlines(task) if line.startswith("missing ")]
        assert not missing or missing == headlines(task), (name, number)
