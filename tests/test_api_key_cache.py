"""Each process keeps the API keys it saw; a change made anywhere reaches every process at once."""

import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from orders.models import ApiKey
from orders.services import API_KEYS, api_key_cache_key
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def revoke_elsewhere(key: ApiKey) -> None:
    """What another process's revocation leaves behind: the row changed and the shared cache cleared."""
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    cache.delete(api_key_cache_key(key.key_hash))


def announce_elsewhere(key: ApiKey) -> None:
    # Another process announces on the channel of this Redis database (see oms.localcache).
    database = settings.REDIS_URL.rsplit("/", 1)[1]
    redis.Redis.from_url(settings.REDIS_URL).publish(f"oms:{database}:apikeys", key.key_hash)


def status(client) -> int:
    return client.get("/api/v1/orders/").status_code


def client_with_key_kept_here(raw: str):
    """A client whose key this process has read from the shared cache and kept."""
    client = api_client_for(raw)
    assert status(client) == 200
    assert wait_until(API_KEYS.is_live), "the listener never subscribed"
    assert status(client) == 200
    return client


def test_a_key_revoked_in_another_process_is_refused_as_soon_as_that_is_announced(channel_key):
    key, raw = channel_key
    client = client_with_key_kept_here(raw)

    revoke_elsewhere(key)
    # Until the announcement arrives this process still trusts its copy: the announcement is what
    # makes the revocation reach it.
    assert status(client) == 200
    announce_elsewhere(key)
    assert wait_until(lambda: status(client) == 401, seconds=2.0)


def test_nothing_is_trusted_while_the_subscription_is_lost(channel_key):
    key, raw = channel_key
    client = client_with_key_kept_here(raw)

    redis.Redis.from_url(settings.REDIS_URL).client_kill_filter(_type="pubsub")
    assert wait_until(lambda: not API_KEYS.is_live())
    revoke_elsewhere(key)  # announced to nobody: the listener is not there to hear it
    assert status(client) == 401
    assert wait_until(API_KEYS.is_live), "the listener did not subscribe again"


def test_a_revocation_in_this_process_needs_no_announcement(channel_key):
    from orders import services

    key, raw = channel_key
    client = client_with_key_kept_here(raw)
    services.api_key_revoke(key_id=key.pk)
    assert status(client) == 401


@pytest.mark.django_db
def test_admin_revokes_keys_and_cannot_delete_them(client, channel_key):
    """A deleted key kept working from the caches for a minute; keys are revoked instead."""
    from django.contrib.auth.models import User

    from tests.conftest import api_client_for

    key, raw = channel_key
    admin = User.objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    api = api_client_for(raw)
    assert api.get("/api/v1/orders/").status_code == 200  # cached now
    assert client.get(f"/admin/orders/apikey/{key.pk}/delete/").status_code == 403
    changelist = client.get("/admin/orders/apikey/")
    assert "delete_selected" not in changelist.content.decode()
    response = client.post("/admin/orders/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    assert api.get("/api/v1/orders/").status_code == 401
    assert ApiKey.objects.filter(pk=key.pk).exists()
    with pytest.raises(RuntimeError, match="revoked"):
        ApiKey.objects.get(pk=key.pk).delete()
