from django.core.management.base import BaseCommand, CommandError

from oms.errors import DomainError
from orders import services
from orders.models import ApiScope, Channel


class Command(BaseCommand):
    help = (
        "Create an API key: an integration key with scopes (e.g. --scopes catalog inventory) or, with "
        "--channel, a channel key. The key is printed alone on the last line; it is not stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who will use the key, e.g. 'ERP nightly sync'.")
        parser.add_argument("--scopes", nargs="*", default=[], choices=ApiScope.values)
        parser.add_argument("--channel", help="Code of the channel the key acts for.")

    def handle(self, *args, name: str, scopes: list[str], channel: str | None, **options):
        channel_obj = None
        if channel:
            channel_obj = Channel.objects.filter(code=channel.lower()).first()
            if channel_obj is None:
                raise CommandError(f"No channel with code '{channel}'.")
        try:
            key, raw = services.api_key_create(name=name, channel=channel_obj, scopes=scopes)
        except DomainError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from exc
        self.stdout.write(f"API key '{key.name}' ({key.prefix}…) with scopes {', '.join(key.scopes)}:")
        self.stdout.write(raw)
