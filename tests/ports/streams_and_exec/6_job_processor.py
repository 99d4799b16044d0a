"""Task 7: the job function here; the processing by RQ's own command, `rq worker-pool`."""

import os


def send_notification(phone_number, message):
    print(f"Sending notification to {phone_number}, with message: {message}", flush=True)


if __name__ == "__main__":
    url = os.environ.get("REDIS_URL", "redis://localhost:6379")
    os.execvp(
        "rq", ["rq", "worker-pool", "--num-workers", "1", "--url", url, "--quiet", "push_notification_code"]
    )
