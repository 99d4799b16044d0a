import multiprocessing
import os
import signal
import time

from redis import Redis
from rq import Queue, Worker, get_current_job
from rq.serializers import JSONSerializer

blacklisted = ["4153518780", "4153518781"]
STEP = 0.5  # seconds between two progress reports, so that a creator looking at the jobs sees each


def report_progress(job, percent):
    job.meta["progress"] = percent
    job.save_meta()
    time.sleep(STEP)


def send_notification(phone_number, message):
    job = get_current_job()
    report_progress(job, 0)
    if phone_number in blacklisted:
        raise ValueError(f"Phone number {phone_number} is blacklisted")
    report_progress(job, 50)
    print(f"Sending notification to {phone_number}, with message: {message}")


def work():
    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue("push_notification_code_2", connection=connection, serializer=JSONSerializer)
    Worker([queue], connection=connection, serializer=JSONSerializer).work(logging_level="WARNING")


if __name__ == "__main__":
    workers = [multiprocessing.Process(target=work) for _ in range(2)]  # two jobs at a time
    for worker in workers:
        worker.start()

    def stop(signum, frame):
        for worker in workers:
            worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    for worker in workers:
        worker.join()
