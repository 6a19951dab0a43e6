"""Sign-in throttling on the dashboard and admin: wrong passwords for one user name lock it for a
while, whatever password comes next; another user is not affected; the window passes."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db


ADDRESS = "203.0.113.7"


@pytest.fixture(autouse=True)
def _no_counts_from_earlier_runs():
    """The tests' clock repeats the same minutes in every run: counts of earlier runs must go."""
    from oms.login_throttle import _names

    class Request:
        META = {"REMOTE_ADDR": ADDRESS}

    for username in ("olga", "rita", "boss", "sam", "a", "b", "c"):
        cache.delete_many(_names(Request, username))
    yield


def sign_in(client: Client, username: str, password: str, url: str = "/login/"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ADDRESS)


def test_five_wrong_passwords_lock_the_user_name_for_a_while(ops_user, settings, clock):
    settings.LOGIN_MAX_FAILURES = 5
    client = Client()
    for _ in range(5):
        wrong = sign_in(client, ops_user.username, "guess")
        assert wrong.status_code == 200 and "did not match" in wrong.content.decode()
    locked = sign_in(client, ops_user.username, "pw-olga-123")
    assert locked.status_code == 200
    assert "Too many failed sign-ins; try again in 15 minutes." in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # another user signs in as usual
    User.objects.create_user("rita", password="rita-password", is_staff=False)
    assert sign_in(Client(), "rita", "rita-password").status_code == 302
    # a quarter of an hour later the user name is free again
    clock.move_to(timezone.now() + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1))
    assert sign_in(client, ops_user.username, "pw-olga-123").status_code == 302


def test_the_admin_sign_in_is_throttled_too(settings):
    settings.LOGIN_MAX_FAILURES = 2
    User.objects.create_superuser("boss", "boss@example.com", "boss-password")
    client = Client()
    for _ in range(2):
        sign_in(client, "boss", "nope", url="/admin/login/")
    page = sign_in(client, "boss", "boss-password", url="/admin/login/")
    assert page.status_code == 200 and "Too many failed sign-ins" in page.content.decode()


def test_many_failures_from_one_address_lock_it_for_every_user_name(settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    User.objects.create_user("sam", password="sam-password")
    client = Client()
    for name in ("a", "b", "c"):
        sign_in(client, name, "x")
    assert "Too many failed sign-ins" in sign_in(client, "sam", "sam-password").content.decode()
