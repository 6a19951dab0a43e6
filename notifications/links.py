"""Signed links in messages: the open pixel, click-through redirects and one-click unsubscribe.

Each link carries its message id (and, for a click, the address it leads to) signed with the
project's secret, so a forged or altered link is refused instead of redirecting anywhere or
unsubscribing anyone.
"""

import html
import re

from django.conf import settings
from django.core import signing

OPEN_SALT = "notifications.open"
CLICK_SALT = "notifications.click"
UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def _url(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def unsubscribe_token(message) -> str:
    return signing.dumps({"m": message.pk, "c": message.category}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(message) -> str:
    return _url(f"/n/u/{unsubscribe_token(message)}/")


def open_url(message) -> str:
    return _url(f"/n/o/{signing.dumps(message.pk, salt=OPEN_SALT)}.gif")


def click_url(message, target: str) -> str:
    return _url(f"/n/c/{signing.dumps({'m': message.pk, 'u': target}, salt=CLICK_SALT, compress=True)}/")


def read(token: str, salt: str):
    """What a signed token says, or None when it was forged, altered or is not a token at all."""
    try:
        return signing.loads(token, salt=salt)
    except (signing.BadSignature, ValueError, TypeError, UnicodeDecodeError):
        return None


_HREF = re.compile(r'href="(https?://[^"]+)"')


def track_html(body: str, message) -> str:
    """Route the e-mail's web links through the click counter and add the open pixel; the unsubscribe
    link stays direct (mail clients and the law want it to work without a detour)."""
    unsubscribe = unsubscribe_url(message) if message.category == "delivery" else None

    def rewrite(match: re.Match) -> str:
        target = html.unescape(match.group(1))
        if unsubscribe and target == unsubscribe:
            return match.group(0)
        return f'href="{html.escape(click_url(message, target))}"'

    body = _HREF.sub(rewrite, body)
    pixel = _pixel(message)
    return body.replace("</body>", f"{pixel}</body>", 1) if "</body>" in body else body + pixel


def _pixel(message) -> str:
    return f'<img src="{html.escape(open_url(message))}" width="1" height="1" alt="" style="display:none">'


# The pixel as ``_pixel`` writes it (its signed token carries the time it was made).
_PIXEL = re.compile(r'<img src="[^"]*/n/o/[^"]*\.gif" width="1" height="1" alt="" style="display:none">')


def without_open_pixel(body: str) -> str:
    """The e-mail as ops look at it: without its open pixel, so that looking is not counted as the
    customer opening it."""
    return _PIXEL.sub("", body)
