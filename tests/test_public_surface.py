"""The numbered scripts are the lesson: each shows redis-py's, RQ's and Flask's own calls,
and takes what those lack from the package's one public surface (`queuing_system`, its
`__all__`), nothing deeper. Each takes --help and refuses an unknown option, as argparse
does, without connecting to anything."""

import ast
import importlib
import inspect
import sys

import pytest
import redis

import queuing_system
from queuing_system.grader.harness import listening, port_open, run_script, scripts_dir, wait_for
from queuing_system.grader.redis_server import free_port
from queuing_system.logs import ENVIRONMENT_HELP

SCRIPTS = sorted(path.name for path in scripts_dir().glob("[0-9]*.py"))
LIBRARIES = {"redis", "rq", "flask"}  # what the scripts port, besides the standard library
APPS = {"9_stock.py", "100_seat.py"}


def test_there_are_fourteen_scripts():
    assert len(SCRIPTS) == 13  # and 8_job.py's tests, task 11


def imports_of(script):
    """(module, [names]) of each import statement in the script."""
    tree = ast.parse((scripts_dir() / script).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or ""), [alias.name for alias in node.names]


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_imports_the_libraries_it_ports_and_the_public_surface_only(script):
    for module, names in imports_of(script):
        root = module.split(".")[0]
        if root == "queuing_system":
            assert module == "queuing_system", f"{script} imports {module}: only queuing_system itself"
            assert set(names) <= set(queuing_system.__all__), names
        else:
            assert root in LIBRARIES or root in sys.stdlib_module_names, f"{script} imports {module}"


def package_names_of(script):
    """The distinct names the script takes of the package: each `qs.NAME`."""
    tree = ast.parse((scripts_dir() / script).read_text())
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "qs"
    }


@pytest.mark.parametrize("script", SCRIPTS)
def test_what_a_script_takes_of_the_package_is_public(script):
    used = package_names_of(script)
    assert used, f"{script} takes nothing of queuing_system (as qs)?"
    assert used <= set(queuing_system.__all__), used - set(queuing_system.__all__)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_stays_short_enough_to_read_top_to_bottom(script):
    lines = len((scripts_dir() / script).read_text().splitlines())
    assert lines <= (110 if script in APPS else 70), f"{script}: {lines} lines"


def test_every_public_name_is_found_and_every_function_class_and_module_says_what_it_is():
    assert len(set(queuing_system.__all__)) == len(queuing_system.__all__)
    for name in queuing_system.__all__:
        value = getattr(queuing_system, name)
        if inspect.isfunction(value) or inspect.isclass(value) or inspect.ismodule(value):
            summary = (inspect.getdoc(value) or "").strip().splitlines()
            assert summary and summary[0], f"{name} has no docstring"


def test_each_public_name_is_written_once_and_found_where_the_table_says():
    """PUBLIC names each name once, with its module (a name that is its module's own is the
    module itself); __all__ is made from it."""
    assert queuing_system.__all__ == list(queuing_system.PUBLIC)
    source = inspect.getsource(queuing_system)
    for name, module in queuing_system.PUBLIC.items():
        assert source.count(f'"{name}":') == 1, name
        found = importlib.import_module(f"queuing_system.{module}")
        assert getattr(queuing_system, name) is (found if module == name else getattr(found, name)), name


def test_the_surface_is_small_and_each_class_goes_by_its_own_name():
    assert len(queuing_system.__all__) <= 24
    for name in queuing_system.__all__:
        value = getattr(queuing_system, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__name__ == name, f"{name} is {value.__name__} under another name"


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_script_takes_few_names_of_the_package(script):
    assert len(package_names_of(script)) <= 8, sorted(package_names_of(script))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'job_options'"):
        queuing_system.job_options  # noqa: B018 - internal: not on the surface


def connections_received(client):
    return client.info("stats")["total_connections_received"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_prints_the_usage_and_touches_nothing(script, redis_url):
    client = redis.Redis.from_url(redis_url)
    before = connections_received(client)
    result = run_script(script, redis_url, "--help", timeout=20)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: ")
    assert " ".join(result.stdout.split()).endswith(" ".join(ENVIRONMENT_HELP.split()))
    assert connections_received(client) == before  # no connection but this test's own
    assert client.dbsize() == 0


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unknown_option_exits_2_in_one_line(script, redis_url):
    result = run_script(script, redis_url, "--no-such-option", timeout=20)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].endswith("unrecognized arguments: --no-such-option")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("app", sorted(APPS))
def test_an_apps_port_on_the_command_line_wins_over_port_in_the_environment(app, redis_url, scripts):
    told, ignored = free_port(), free_port()
    running = scripts(app, redis_url, "--port", str(told), PORT=str(ignored))
    wait_for(lambda: port_open(told) or not running.running())
    assert port_open(told) and not port_open(ignored)
    assert running.stop() == 0
    assert running.stderr == listening(f"http://127.0.0.1:{told}")


@pytest.mark.parametrize("app", sorted(APPS))
def test_a_port_that_is_no_port_exits_2(app):
    bad = run_script(app, "redis://127.0.0.1:1/0", "--port", "70000", timeout=20)
    assert bad.returncode == 2 and "argument --port: invalid port_number value" in bad.stderr
