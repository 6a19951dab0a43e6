"""Sign-in throttling for the dashboard and admin: after ``LOGIN_MAX_FAILURES`` wrong passwords for one
user name, or ``LOGIN_MAX_FAILURES_PER_ADDRESS`` from one address, within ``LOGIN_LOCKOUT_SECONDS``,
further sign-ins for it are refused until the window has passed, whatever the password. The address
limit is higher because a whole office may share one address behind a proxy.

Counted in the shared cache; with Redis down nothing is counted and sign-in works as without the
throttle (the cache is tolerant: reads miss, writes are dropped)."""

import hashlib
import math
import time

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache


def _names(request, username: str) -> list[str]:
    who = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    where = (request.META.get("REMOTE_ADDR") or "unknown") if request is not None else "unknown"
    return [f"login:user:{who}", f"login:addr:{where}"]


def _failures(names: list[str]) -> tuple[int, int, float]:
    """Failures for the user name and for the address, and when the older window ends."""
    now = time.time()
    found = cache.get_many(names)
    # a window that has ended counts nothing, whatever the cache still holds
    user, address = (found[name] if name in found and found[name][1] > now else (0, 0.0) for name in names)
    return user[0], address[0], max(user[1], address[1])


def _record_failure(names: list[str]) -> None:
    now = time.time()
    found = cache.get_many(names)
    for name in names:
        count, until = found.get(name) or (0, 0.0)
        if until <= now:  # a new window starts with this failure
            count, until = 0, now + settings.LOGIN_LOCKOUT_SECONDS
        cache.set(name, (count + 1, until), max(int(until - now), 1))


class ThrottledSignIn:
    """Mixed into Django's authentication forms: refuse before the password is checked."""

    throttled = False  # the page says why, instead of "did not match"

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        names = _names(self.request, username)
        user_failures, address_failures, until = _failures(names)
        if (
            user_failures >= settings.LOGIN_MAX_FAILURES
            or address_failures >= settings.LOGIN_MAX_FAILURES_PER_ADDRESS
        ):
            minutes = max(math.ceil((until - time.time()) / 60), 1)
            self.throttled = True
            raise forms.ValidationError(
                f"Too many failed sign-ins; try again in {minutes} minute{'s' if minutes > 1 else ''}.",
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            if username:
                _record_failure(names)
            raise


class ThrottledAuthenticationForm(ThrottledSignIn, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledSignIn, AdminAuthenticationForm):
    pass
