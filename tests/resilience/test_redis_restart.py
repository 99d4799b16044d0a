"""Redis stopped for 3 s and restarted (AOF on) under a creator, a processor and both apps."""

import time

import redis
from rq.registry import FinishedJobRegistry

from queuing_system.grader.expected import TASK8_DATA, creator_differences
from queuing_system.grader.harness import RunningScript, http_get, start_app, wait_for
from queuing_system.grader.redis_server import RedisServer
from queuing_system.jobs import create_jobs, job_queue

QUEUE = "push_notification_code_2"
BACKLOG = 2000


def test_everything_reconnects_by_itself_and_loses_nothing():
    server = RedisServer(appendonly=True).start()
    started = []
    try:
        client = redis.Redis.from_url(server.url)
        stock, stock_url = start_app("9_stock.py", server.url)
        seat, seat_url = start_app("100_seat.py", server.url)
        processor = RunningScript("7_job_processor.py", server.url)
        started += [stock, seat, processor]
        queue = job_queue(QUEUE, client)
        # a backlog ahead of the creator's jobs keeps the processor busy through the outage
        create_jobs(
            queue,
            "7_job_processor.process",
            [{"phoneNumber": f"4157{n:06d}", "message": f"m{n}"} for n in range(BACKLOG)],
        )
        creator = RunningScript("7_job_creator.py", server.url)
        started.append(creator)
        for _ in TASK8_DATA:
            creator.next_line()
        assert http_get(seat_url + "/reserve_seat")[0] == 200

        server.stop()
        outage = {}
        for name, url in (("stock", stock_url + "/list_products/1"), ("seat", seat_url + "/reserve_seat")):
            status, content_type, body = http_get(url)
            outage[name] = (status, content_type)
        time.sleep(3)
        server.start()

        assert outage == {"stock": (503, "application/json"), "seat": (503, "application/json")}
        assert creator.wait(timeout=60) == 0
        assert creator_differences(creator.output, TASK8_DATA, first_id=BACKLOG + 1) == []
        finished = FinishedJobRegistry(queue=queue)
        wait_for(
            lambda: finished.count + len(queue.failed_job_registry) == BACKLOG + len(TASK8_DATA), timeout=60
        )
        assert http_get(stock_url + "/list_products/1")[0] == 200
        assert http_get(seat_url + "/process")[0] == 200
        assert seat.next_line() == f"Seat reservation job {BACKLOG + len(TASK8_DATA) + 1} completed"
        for script in (processor, stock, seat):
            assert script.running(), f"{script.name} died: {script.stderr}"
            assert script.stop() == 0
            assert "Traceback" not in script.stderr
    finally:
        for script in started:
            script.kill()
        server.close()
