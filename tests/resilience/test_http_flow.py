"""The server's work for clients that are gone, and its flow control: a client that
pipelines thousands of requests and resets costs no line per request and little CPU, and
the others are answered meanwhile; one that pipelines without reading is read no further
once its answers wait unread (uvicorn's flow control), so the server does not grow."""

import os
import socket
import struct
import threading
import time

from queuing_system.grader.harness import http_get, listening, processes_using, wait_for

PIPELINED = 4_500  # requests each resetting client sends in one go
RESETTING_CLIENTS = 100
SENDING = 10  # seconds a client sends requests without reading an answer
REQUEST = b"GET /list_products HTTP/1.1\r\nHost: x\r\n\r\n"


def address(base):
    host, port = base.rsplit("/", 1)[1].split(":")
    return host, int(port)


def cpu_seconds(pids):
    """User and system CPU time of `pids`, in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def rss_bytes(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/statm") as statm:
            total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


def receive_queue(local_port, remote_port):
    """Bytes received by the kernel on 127.0.0.1:`local_port` from `remote_port` that the
    process has not read yet (/proc/net/tcp's rx_queue)."""
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
            if (local, remote) == (local_port, remote_port):
                return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"no connection from {remote_port} to {local_port}")


def pipeline_and_reset(base):
    """Send PIPELINED requests at once, then reset the connection (SO_LINGER 0)."""
    sock = socket.create_connection(address(base))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.sendall(REQUEST * PIPELINED)
    sock.close()


def slowest_answer(base, stop):
    """The longest a lone client waited for /list_products/1 until `stop` is set."""
    slowest = 0.0
    while not stop.is_set():
        started = time.monotonic()
        try:
            answered = http_get(base + "/list_products/1", timeout=30)[0] == 200
        except OSError:
            answered = False
        slowest = max(slowest, time.monotonic() - started if answered else float("inf"))
    return slowest


def test_clients_that_pipeline_thousands_of_requests_and_reset_cost_nothing_that_shows(redis_url, start_app):
    app, base = start_app("9_stock.py", redis_url)
    servers = processes_using(redis_url)
    assert http_get(base + "/list_products")[0] == 200
    before = cpu_seconds(servers)
    stop, slowest = threading.Event(), []
    watcher = threading.Thread(target=lambda: slowest.append(slowest_answer(base, stop)))
    watcher.start()
    try:
        threads = [threading.Thread(target=pipeline_and_reset, args=[base]) for _ in range(RESETTING_CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # What the server still does for them: wait until it is idle again.
        spent = [cpu_seconds(servers)]
        wait_for(lambda: spent.append(cpu_seconds(servers)) or spent[-1] - spent[-2] < 0.05, interval=0.5)
    finally:
        stop.set()
        watcher.join()
    # Answering all 450,000 costs the server processes about 20 s of CPU here.
    assert spent[-1] - before < 4.0, f"{spent[-1] - before:.1f}s of CPU"
    assert slowest[0] < 2.0, f"a client waited {slowest[0]:.1f}s"
    assert app.stop() == 0
    assert app.stderr == listening(base)  # no line per request


def test_a_client_that_pipelines_without_reading_its_answers_is_read_no_further(redis_url, start_app):
    app, base = start_app("9_stock.py", redis_url)
    servers = processes_using(redis_url)
    before = rss_bytes(servers)
    sock = socket.create_connection(address(base))
    sock.setblocking(False)
    burst, sent = REQUEST * 1000, 0
    # For SENDING seconds, send whenever the server reads: it stops reading once its
    # answers wait unread.
    deadline = time.monotonic() + SENDING
    while time.monotonic() < deadline:
        try:
            sent += sock.send(burst)
        except BlockingIOError:
            time.sleep(0.01)
    grown = rss_bytes(servers) - before
    unread = receive_queue(address(base)[1], sock.getsockname()[1])
    sock.close()
    # The server stopped reading: what the client sent waits in the server's kernel buffer.
    # Without flow control it reads on, holding every answer (or refusing the stream).
    assert unread > 256 * 1024, f"the server left {unread} bytes unread of {sent / 1e6:.1f} MB"
    assert grown < 16e6, f"the server processes grew {grown / 1e6:.1f} MB"
    assert http_get(base + "/list_products")[0] == 200
    assert app.stop() == 0
    assert app.stderr == listening(base)
