"""A real SMTP server for the tests and the benchmark (aiosmtpd on 127.0.0.1): it keeps what it
receives, parsed, and refuses recipients the test names with the reply a real server would give."""

import asyncio
import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self, keep: bool = True):
        self.keep = keep
        self.received: list[EmailMessage] = []
        self.count = 0
        # recipient prefix -> SMTP reply, e.g. "550 5.1.1 No such user"
        self.refuse: dict[str, str] = {}
        # set to hold DATA until released (a worker killed mid-send)
        self.hold: threading.Event | None = None
        self.data_started = threading.Event()
        self.drop_held = False
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        for prefix, reply in self.refuse.items():
            if address.startswith(prefix):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_started.set()
        hold = self.hold
        if hold is not None:
            while not hold.is_set():
                await asyncio.sleep(0.05)
            if self.drop_held:
                # the client went away before the server said 250: a real server discards the message
                return "421 4.3.0 Closing connection"
        with self._lock:
            self.count += 1
            if self.keep:
                self.received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if address in m["To"]]


class SmtpServer:
    def __init__(self, keep: bool = True):
        self.inbox = Inbox(keep=keep)
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
