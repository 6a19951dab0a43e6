import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from oms.celery import app as celery_app
from orders import services
from tests.clock import CLOCK_START
from tests.factories import ProductFactory


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    # Most tests run tasks in-process; the ones about delivery start a real worker on Redis.
    celery_app.conf.task_always_eager = True
    yield


@pytest.fixture(autouse=True)
def clock():
    """Every test starts at CLOCK_START and its time flows from there (``clock.move_to`` jumps)."""
    with time_machine.travel(CLOCK_START, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _outbox_kick_window_closed():
    # The relay kick is debounced across processes through Redis; each test starts with no window open.
    from django.core.cache import cache

    from notifications.backends import email_connection_reset
    from notifications.rendering import settings_changed
    from oms.events import reset_kick_window
    from orders.services import API_KEYS

    cache.clear()
    API_KEYS.clear()
    reset_kick_window()
    # per-process copies of messaging settings, and a kept SMTP connection, belong to one test
    settings_changed()
    email_connection_reset()


@pytest.fixture(autouse=True)
def _manual_routing(settings):
    # Most tests drive stock and statuses by hand; tests of routing switch it back on.
    settings.ROUTING_ON_RECEIPT = False


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _postgres_only():
    assert connection.vendor == "postgresql", (
        "The test suite runs on PostgreSQL: set DATABASE_URL (bin/test does)."
    )


@pytest.fixture
def channel(db):
    return services.channel_create(code="web-eu", name="Web shop", kind="web")


@pytest.fixture
def other_channel(db):
    return services.channel_create(code="marketplace", name="Marketplace", kind="marketplace")


def api_client_for(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def channel_key(channel):
    return services.api_key_create(name="web key", channel=channel)


@pytest.fixture
def api(channel_key):
    return api_client_for(channel_key[1])


@pytest.fixture
def other_api(other_channel):
    return api_client_for(services.api_key_create(name="mp key", channel=other_channel)[1])


@pytest.fixture
def catalog_api(db):
    return api_client_for(services.api_key_create(name="ERP", scopes=["catalog"])[1])


@pytest.fixture
def products(db):
    return [
        ProductFactory(sku="TSHIRT-BLK-M", name="T-shirt black M"),
        ProductFactory(sku="HOODIE-GRY-L", name="Hoodie grey L"),
        ProductFactory(sku="CAP-NAVY", name="Cap navy"),
    ]


@pytest.fixture
def ops_user(db):
    from django.contrib.auth.models import Group, User

    from oms.dashboard import OPS_GROUP

    user = User.objects.create_user("olga", password="pw-olga-123")
    user.groups.add(Group.objects.get_or_create(name=OPS_GROUP)[0])
    return user


@pytest.fixture
def ops_client(client, ops_user):
    client.force_login(ops_user)
    return client
