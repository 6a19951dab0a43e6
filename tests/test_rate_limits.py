"""Per-key API rate limits, shared by every web process through Redis: 429 with Retry-After once a
key has used its minute, its own limit from admin or the default, and calls going through (with a
log line) while Redis is down."""

import logging
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from oms.api import throttling
from orders import services
from orders.models import ApiKey
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    """The tests' clock repeats the same minute in every run: counters of earlier runs must go."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for name in client.scan_iter("oms:ratelimit:*"):
        client.delete(name)
    throttling._down_until = 0.0
    yield


def keyed(limit: int | None, channel) -> tuple[ApiKey, object]:
    key, raw = services.api_key_create(name="limited", channel=channel, rate_limit_per_minute=limit)
    return key, api_client_for(raw)


def test_a_key_over_its_limit_gets_429_with_retry_after_until_the_next_minute(channel, clock):
    clock.move_to(timezone.now().replace(second=30, microsecond=0))
    _, client = keyed(3, channel)
    _, other = keyed(3, channel)
    assert [client.get("/api/v1/orders/").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/v1/orders/")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    assert refused.json()["error"]["code"] == "throttled"
    # writes count too, and nothing is written when refused
    assert client.post("/api/v1/orders/", {}, format="json").status_code == 429
    assert other.get("/api/v1/orders/").status_code == 200  # every key has its own minute
    clock.move_to(timezone.now() + timedelta(seconds=31))
    assert client.get("/api/v1/orders/").status_code == 200


def test_the_default_limit_applies_to_keys_without_their_own_and_zero_means_none(channel, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    _, default = keyed(None, channel)
    _, unlimited = keyed(0, channel)
    assert [default.get("/api/v1/orders/").status_code for _ in range(3)] == [200, 200, 429]
    assert {unlimited.get("/api/v1/orders/").status_code for _ in range(5)} == {200}


def test_a_limit_changed_in_admin_applies_at_once(channel, admin_client):
    key, client = keyed(None, channel)
    assert client.get("/api/v1/orders/").status_code == 200  # the key is cached now
    response = admin_client.post(
        f"/admin/orders/apikey/{key.pk}/change/", {"name": "limited", "rate_limit_per_minute": "1"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ApiKey.objects.get(pk=key.pk).rate_limit_per_minute == 1
    assert client.get("/api/v1/orders/").status_code == 429  # one call made this minute already


def test_with_redis_down_calls_go_through_and_say_so_in_the_log(channel, settings, caplog):
    _, client = keyed(1, channel)
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="oms.api.throttling"):
        assert [client.get("/api/v1/orders/").status_code for _ in range(3)] == [200, 200, 200]
    assert "API rate limits not enforced: Redis does not answer" in caplog.text
    # one failed try, then Redis is left alone for a moment instead of each call waiting for it
    assert caplog.text.count("not enforced") == 1


def test_the_schema_states_the_limit_on_every_keyed_operation(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    keyed_operations = [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if "401" in operation.get("responses", {})
    ]
    assert len(keyed_operations) > 30
    for path, method, operation in keyed_operations:
        assert "Retry-After" in operation["responses"]["429"]["headers"], (path, method)


def test_a_redis_that_takes_the_connection_and_never_answers_costs_one_timeout_not_an_error(
    channel, settings, caplog
):
    """A Redis too busy to answer (the full suite and a restart on a two-core machine showed it):
    the call waits for the client's timeout once, goes through, and later calls do not wait."""
    import socket
    import time

    _, client = keyed(1, channel)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts, reads nothing, says nothing
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        with caplog.at_level(logging.WARNING, logger="oms.api.throttling"):
            started = time.monotonic()
            assert [client.get("/api/v1/orders/").status_code for _ in range(3)] == [200, 200, 200]
            elapsed = time.monotonic() - started
    assert caplog.text.count("API rate limits not enforced") == 1
    assert elapsed < 3  # one wait of the client's timeout (0.5 s connect and 0.5 s read), not three
