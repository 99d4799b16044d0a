"""Property-based: any input the apps and create_push_notifications_jobs accept."""

import importlib
import urllib.parse

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuing_system.grader.expected import PRODUCT_NOT_FOUND
from queuing_system.jobs import JOB_ID_KEY, job_queue

stock = importlib.import_module("9_stock")
job8 = importlib.import_module("8_job")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=200),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)
job_data = st.fixed_dictionaries(
    {},
    optional={
        "phoneNumber": st.text(max_size=30) | json_values,
        "message": st.text(max_size=5000) | json_values,
        "extra": json_values,
    },
)


@pytest.fixture(scope="module")
def http():
    return stock.create_app(fakeredis.FakeRedis(decode_responses=True)).test_client()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segment=st.text(min_size=1, max_size=60))
def test_any_path_segment_as_item_id_gets_the_spec_json_never_a_500(http, segment):
    quoted = urllib.parse.quote(segment, safe="")
    for route in ("/list_products/", "/reserve_product/"):
        response = http.get(route + quoted)
        assert response.content_type == "application/json"
        assert response.status_code in (200, 404)  # 404 only for a segment the router splits
        if segment not in stock.PRODUCTS_BY_ID and response.status_code == 200:
            assert response.get_data(as_text=True) == PRODUCT_NOT_FOUND


@settings(max_examples=300, deadline=None)
@given(jobs=json_values | st.lists(job_data, max_size=8))
def test_any_json_value_as_jobs_creates_all_or_nothing(jobs):
    connection = fakeredis.FakeRedis()
    queue = job_queue(job8.QUEUE, connection)
    try:
        created = job8.create_push_notifications_jobs(jobs, queue)
    except (TypeError, ValueError) as error:
        assert str(error)  # a clear message
        assert queue.count == 0 and connection.get(JOB_ID_KEY) is None
        if not isinstance(jobs, list):
            assert str(error) == "Jobs is not an array"
    else:
        assert isinstance(jobs, list)
        assert [list(job.args) for job in queue.jobs] == [[data] for data in jobs]
        assert len(created) == len(jobs)
    finally:
        for reporter in job8.reporters:
            reporter.stop()
        job8.reporters.clear()
