"""Security defaults: JSON payloads, debug off, loopback by default, passwords kept secret."""

import importlib

import fakeredis

from queuing_system.grader.expected import TASK8_DATA, creator_differences
from queuing_system.grader.harness import RunningScript, http_get, start_app
from queuing_system.grader.redis_server import RedisServer
from queuing_system.web.app import DEFAULT_HOST, address

stock = importlib.import_module("9_stock")
PASSWORD = "Sup3r-Secret-pw"


def test_apps_run_with_debug_off_and_errors_never_show_a_traceback():
    class Broken(fakeredis.FakeRedis):
        def get(self, *args, **kwargs):
            raise RuntimeError("boom")

    app = stock.create_app(Broken(decode_responses=True))
    assert app.debug is False
    response = app.test_client().get("/list_products/1")
    assert (response.status_code, response.content_type) == (500, "application/json")
    assert response.get_data(as_text=True) == '{"error":"Internal Server Error"}'


def test_the_apps_bind_to_loopback_unless_host_says_otherwise(monkeypatch):
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    assert address() == (DEFAULT_HOST, 1245) == ("127.0.0.1", 1245)
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "8080")
    assert address() == ("0.0.0.0", 8080)


def test_a_password_in_redis_url_works_everywhere_and_is_never_printed():
    with RedisServer(password=PASSWORD) as server:
        processor = RunningScript("7_job_processor.py", server.url)
        creator = RunningScript("7_job_creator.py", server.url)
        app, base = start_app("9_stock.py", server.url)
        wrong = RunningScript("6_job_creator.py", server.url.replace(PASSWORD, PASSWORD[::-1]))
        try:
            assert creator.wait() == 0
            assert creator_differences(creator.output, TASK8_DATA, first_id=1) == []
            assert http_get(base + "/list_products/1")[0] == 200
            assert wrong.wait() == 1  # a wrong password is said once: retrying cannot fix it
            assert "not connected" in wrong.stderr
        finally:
            for script in (processor, app, wrong):
                script.stop()
        for script in (processor, creator, app, wrong):
            assert PASSWORD not in "\n".join(script.output) + script.stderr
            assert PASSWORD[::-1] not in "\n".join(script.output) + script.stderr
