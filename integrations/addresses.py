"""Where an endpoint registered over the API may point: a public address only. Without this check an
integration's key could make our workers POST to the database, the cache or a cloud's metadata
service on the private network (server-side request forgery). The host is resolved when the URL is
saved and again before every try, so a name that later resolves to a private address (DNS rebinding)
is refused then too."""

import ipaddress
import socket
from urllib.parse import urlsplit


class NotPublic(Exception):
    """The URL cannot be used for a public-only endpoint; the message says why, for the caller."""


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise NotPublic(f"The host '{host}' does not resolve.") from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_public(url: str) -> None:
    """Raises ``NotPublic`` unless ``url`` is http(s) to a host whose every address is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise NotPublic("Only http and https URLs can receive webhooks.")
    if parts.username or parts.password:
        raise NotPublic("Put no user name or password in the URL; the signature authenticates us.")
    host = parts.hostname
    if not host:
        raise NotPublic("The URL has no host.")
    for address in _addresses(host):
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise NotPublic(
                f"The host '{host}' is a private, loopback or reserved address ({address}); "
                "webhooks go to public addresses only."
            )
