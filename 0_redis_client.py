#!/usr/bin/env python3
"""Task 1: connect to Redis and say whether it worked, retrying until it does.

The original's node_redis client said so from its 'connect' and 'error' events, and
retried by itself. redis-py connects on a client's first command: here a PING, tried
again with back-off until the server answers.
"""

import time

import queuing_system as qs


def main(argv=None):
    qs.ArgumentParser(description=__doc__).parse_args(argv)  # argparse's, with --log-format
    client = qs.make_client()  # redis-py's Redis.from_url($REDIS_URL), or a redis+sentinel:// URL's primary
    for delay in qs.retry_delays():  # 0.1 s, then twice as long each time, up to 2 s
        try:
            client.ping()
        except Exception as error:  # redis-py's errors, and the OSError of a closed port
            qs.say(qs.not_connected(error))  # the error's text, any password masked
            if not qs.worth_retrying(error):  # a wrong password, say
                return 1
            time.sleep(delay)
        else:
            qs.say(qs.CONNECTED)  # the spec's line; say: one write, untrusted text escaped
            return 0


if __name__ == "__main__":
    qs.run(main)  # exit 0 on SIGTERM, 130 on Ctrl-C, 1 if Redis refuses us: never a traceback
