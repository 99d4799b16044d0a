"""The task's Redis emptied after the grader killed a script (job_tasks.forget_the_run): on
the grader's own redis-server, every other connection is closed first, whatever it held
unread; on a Redis the educator named, which others may use, only the database is emptied."""

from types import SimpleNamespace

import redis

from queuing_system.grader.job_tasks import forget_the_run


def other_connection_ids(client, mine):
    return {int(entry["id"]) for entry in client.client_list()} - {mine}


def test_the_graders_own_redis_loses_every_other_connection_and_every_key(redis_url):
    grader, other = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    other.set("made by a killed script", 1)
    other_id = other.client_id()
    forget_the_run(SimpleNamespace(client=grader, own_redis=True))
    assert grader.dbsize() == 0
    assert other_id not in other_connection_ids(grader, grader.client_id())
    grader.close()
    other.close()


def test_a_named_redis_is_emptied_and_its_other_clients_keep_their_connections(redis_url):
    grader, other = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    other.set("made by a killed script", 1)
    other_id = other.client_id()
    forget_the_run(SimpleNamespace(client=grader, own_redis=False))
    assert grader.dbsize() == 0
    assert other_id in other_connection_ids(grader, grader.client_id())
    grader.close()
    other.close()
