"""The task's Redis emptied after the grader killed a script (job_tasks.forget_the_run): on
the grader's own redis-server, every other connection is closed first, whatever it held
unread; on a Redis the educator named, which others may use, only the database is emptied."""

from types import SimpleNamespace

import pytest
import redis

from queuing_system.grader.job_tasks import forget_the_run


def other_connection_ids(client, mine):
    return {int(entry["id"]) for entry in client.client_list()} - {mine}


@pytest.mark.parametrize("own_redis", [True, False], ids=["the grader's own", "named by the educator"])
def test_the_database_is_emptied_and_only_the_graders_own_server_loses_others(redis_url, own_redis):
    grader, other = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    other.set("made by a killed script", 1)
    other_id = other.client_id()
    forget_the_run(SimpleNamespace(client=grader, own_redis=own_redis))
    assert grader.dbsize() == 0
    assert (other_id in other_connection_ids(grader, grader.client_id())) is not own_redis
    grader.close()
    other.close()
