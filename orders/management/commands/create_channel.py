from django.core.management.base import BaseCommand, CommandError

from oms.errors import DomainError
from orders import services
from orders.models import ChannelKind


class Command(BaseCommand):
    help = "Create a sales channel and an API key for it; the key is printed alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("code", help="Short stable code, e.g. web-eu.")
        parser.add_argument("--kind", required=True, choices=ChannelKind.values)
        parser.add_argument("--name", default="", help="Display name (defaults to the code).")

    def handle(self, *args, code: str, kind: str, name: str, **options):
        try:
            channel = services.channel_create(code=code, name=name, kind=kind)
            key, raw = services.api_key_create(name=f"{channel.code} key", channel=channel)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Channel {channel.code} ({channel.get_kind_display()}) created; API key {key.prefix}…:"
        )
        self.stdout.write(raw)
