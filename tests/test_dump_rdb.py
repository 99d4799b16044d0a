import redis
from conftest import DUMP_RDB

from queuing_system.grader.redis_server import RedisServer


def test_dump_rdb_is_an_rdb_file_of_a_version_redis_6_2_loads():
    header = DUMP_RDB.read_bytes()[:9]
    assert header[:5] == b"REDIS"
    assert int(header[5:]) <= 9  # RDB 9 is what 6.2 writes; 7.x writes 10+


def test_a_server_started_on_dump_rdb_answers_school():
    with RedisServer(rdb=DUMP_RDB) as server:
        assert redis.Redis.from_url(server.url).get("Holberton") == b"School"
