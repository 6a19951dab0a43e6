"""Outbound webhooks: where an integration wants to hear of our domain events, and every delivery
with its request, response and retries (the delivery log)."""

import base64
import re
import secrets

from django.db import models
from django.db.models import Q

EVENT_PATTERN = re.compile(r"^[a-z][a-z_]*(\.[a-z_]+)*\.?$")
MAX_EVENTS = 50
MAX_EVENT_LENGTH = 64


def events_problem(events: object) -> str | None:
    """What is wrong with an endpoint's list of events, or None: the API and admin say the same."""
    if not isinstance(events, list):
        return 'A list of event names or prefixes, e.g. ["order.shipped", "return."]; [] for every event.'
    if len(events) > MAX_EVENTS:
        return f"At most {MAX_EVENTS} names or prefixes."
    for item in events:
        if not isinstance(item, str) or len(item) > MAX_EVENT_LENGTH or not EVENT_PATTERN.match(item):
            return (
                f"{str(item)[:80]!r} is not an event name (order.shipped) or a prefix ending in a dot "
                f"(order.), in lower case, up to {MAX_EVENT_LENGTH} characters."
            )
    return None


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """A URL an integration's key registered, the events it wants, and its signing secret. A channel's
    key hears only of its own orders; a key without a channel (an ERP, a WMS) of every event."""

    api_key = models.ForeignKey("orders.ApiKey", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    events = models.JSONField(
        default=list,
        blank=True,
        help_text="Event names (order.shipped) or prefixes ending in a dot (order.); empty: every event.",
    )
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=80, default=new_secret)
    public_only = models.BooleanField(
        default=True,
        help_text="Send only to public addresses (checked before every try). Endpoints registered over "
        "the API always are; untick for a receiver on our own network (an ERP beside the OMS).",
    )
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "outbound webhook endpoint"

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from integrations.addresses import NotPublic, check_public

        problems = {}
        if problem := events_problem(self.events):
            problems["events"] = problem
        if self.public_only and self.url:
            try:
                check_public(self.url)
            except NotPublic as exc:
                problems["url"] = str(exc)
        if problems:
            raise ValidationError(problems)

    def wants(self, event_name: str) -> bool:
        if not self.events:
            return True
        # an endpoint saved around clean() (the shell) with something odd hears nothing, and the
        # fan-out goes on for every other endpoint
        names = self.events if isinstance(self.events, list) else []
        return any(
            isinstance(e, str) and (event_name == e or (e.endswith(".") and event_name.startswith(e)))
            for e in names
        )


class WebhookStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its first try or its next retry
    SUCCEEDED = "succeeded", "Delivered"  # the endpoint answered 2xx
    FAILED = "failed", "Given up"  # every retry failed; replay it from the log to try again


WEBHOOK_TRANSITIONS: dict[str, frozenset[str]] = {
    WebhookStatus.PENDING: frozenset({WebhookStatus.SUCCEEDED, WebhookStatus.FAILED}),
    WebhookStatus.SUCCEEDED: frozenset({WebhookStatus.PENDING}),  # replayed
    WebhookStatus.FAILED: frozenset({WebhookStatus.PENDING}),  # replayed
}


class WebhookDelivery(models.Model):
    """One event for one endpoint: the body as signed and sent, each try's outcome."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("oms.DomainEvent", on_delete=models.CASCADE, related_name="+")
    event_name = models.CharField(max_length=64)
    sequence_key = models.CharField(
        max_length=100,
        blank=True,
        help_text="The aggregate (order:12): its events reach an endpoint in order.",
    )
    body = models.TextField(help_text="The JSON sent, the same on every try.")
    request_headers = models.JSONField(
        default=dict, blank=True, help_text="The headers of the last try (its timestamp and signature)."
    )
    status = models.CharField(max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first 2,000 characters of the last answer.")
    error = models.CharField(max_length=300, blank=True, help_text="Why the last try failed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # "outbound": the carriers' webhooks coming in have their own deliveries (tracking)
        verbose_name = "outbound webhook delivery"
        verbose_name_plural = "outbound webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_once_per_endpoint")
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhook_due", condition=Q(status="pending")),
            models.Index(fields=["endpoint", "sequence_key", "id"], name="webhook_sequence"),
            models.Index(fields=["endpoint", "-id"], name="webhook_log"),
            # the log's status filters and counts (given up, delivered) without walking the whole log
            models.Index(fields=["status", "-id"], name="webhook_status"),
            models.Index(fields=["endpoint", "status", "-id"], name="webhook_endpoint_status"),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} to {self.endpoint}"


class FanOutCursor(models.Model):
    """How far the domain events have been fanned out to endpoints."""

    name = models.CharField(max_length=40, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} up to {self.last_id}"


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"  # orders/create, orders/updated, orders/cancelled webhooks
    WOOCOMMERCE = "woocommerce", "WooCommerce"  # order.created, order.updated, order.deleted webhooks


class ShopConnection(models.Model):
    """A shop on a platform whose orders come in through its own webhooks, into one of our channels.
    Its webhooks are posted to ``/api/v1/shops/<code>/webhooks/`` and signed with ``webhook_secret``."""

    code = models.SlugField(
        max_length=40, unique=True, help_text="In the webhook URL: /api/v1/shops/<code>/webhooks/"
    )
    platform = models.CharField(max_length=20, choices=Platform.choices)
    channel = models.ForeignKey("orders.Channel", on_delete=models.PROTECT, related_name="+")
    shop_url = models.URLField(
        max_length=300, help_text="https://<shop>.myshopify.com, or the WooCommerce site's address."
    )
    webhook_secret = models.CharField(
        max_length=200,
        help_text="Shopify: the app's client secret (it signs every webhook). WooCommerce: the secret set "
        "on each of the shop's webhooks.",
    )
    api_user = models.CharField(
        max_length=200, blank=True, help_text="WooCommerce: the REST API consumer key. Shopify: not used."
    )
    api_secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Shopify: the Admin API access token. WooCommerce: the REST API consumer secret.",
    )
    location_id = models.CharField(
        max_length=40, blank=True, help_text="Shopify: the location whose stock we set (its id)."
    )
    push_stock = models.BooleanField(
        default=True, help_text="Tell the shop what we can ship of each SKU whose mapping names its item."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "shop connection"

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.code}"


class SkuMapping(models.Model):
    """A shop's item that we know by another SKU. Without a mapping a shop's SKU is taken as ours; a
    shop line without a SKU is looked up as ``variant:<id>`` (Shopify) or ``product:<id>`` /
    ``variation:<id>`` (WooCommerce)."""

    connection = models.ForeignKey(ShopConnection, on_delete=models.CASCADE, related_name="sku_mappings")
    channel_sku = models.CharField(
        max_length=100, help_text="As the shop sends it (SKU2006-001, variant:123)."
    )
    sku = models.CharField(max_length=64, help_text="Ours.")
    stock_ref = models.CharField(
        max_length=60,
        blank=True,
        help_text="Where the shop keeps this item's stock, to push ours there: Shopify's inventory item "
        "id; WooCommerce's product id, or product/variation (22/23). Empty: not pushed.",
    )
    pushed_available = models.IntegerField(null=True, blank=True, help_text="What the shop was last told.")
    pushed_at = models.DateTimeField(null=True, blank=True)
    push_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "SKU mapping"
        constraints = [models.UniqueConstraint(fields=["connection", "channel_sku"], name="sku_mapping_once")]

    def __str__(self) -> str:
        return f"{self.channel_sku} -> {self.sku}"


class ShopWebhookStatus(models.TextChoices):
    PENDING = "pending", "Waiting"  # stored and acknowledged, not applied yet
    PROCESSED = "processed", "Applied"  # the order is created, changed or cancelled (or already was)
    IGNORED = "ignored", "Nothing to do"  # e.g. a cancellation of an order we never had
    FAILED = "failed", "Needs attention"  # could not be applied (an unknown SKU): fix it, then retry


SHOP_WEBHOOK_TRANSITIONS: dict[str, frozenset[str]] = {
    ShopWebhookStatus.PENDING: frozenset(
        {ShopWebhookStatus.PROCESSED, ShopWebhookStatus.IGNORED, ShopWebhookStatus.FAILED}
    ),
    ShopWebhookStatus.FAILED: frozenset({ShopWebhookStatus.PENDING}),  # retried by ops
    ShopWebhookStatus.PROCESSED: frozenset(),
    ShopWebhookStatus.IGNORED: frozenset(),
}


class ShopWebhook(models.Model):
    """The inbox of the shops' webhooks: each verified call as received, stored before it is
    acknowledged, then applied to our orders in the background."""

    connection = models.ForeignKey(ShopConnection, on_delete=models.PROTECT, related_name="webhooks")
    webhook_id = models.CharField(
        max_length=100, help_text="The platform's delivery id: a retry has the same."
    )
    topic = models.CharField(
        max_length=40, help_text="As the platform names it (orders/create, order.updated)."
    )
    external_id = models.CharField(max_length=100, blank=True, help_text="The shop's order number.")
    body = models.TextField()
    status = models.CharField(
        max_length=12, choices=ShopWebhookStatus.choices, default=ShopWebhookStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.TextField(blank=True, help_text="What was done, or why it could not be.")
    errors = models.JSONField(default=dict, blank=True, help_text="Problems by field of our order.")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "shop webhook"
        constraints = [models.UniqueConstraint(fields=["connection", "webhook_id"], name="shop_webhook_once")]
        indexes = [
            models.Index(fields=["status", "received_at"], name="shop_webhook_queue"),
            models.Index(fields=["connection", "external_id"], name="shop_webhook_order"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.external_id} ({self.connection})"


class ShopOrderLink(models.Model):
    """Our order and the shop's: its id on the platform and each line's, which the status sync back
    names (a Shopify fulfilment lists the shop's line items)."""

    connection = models.ForeignKey(ShopConnection, on_delete=models.PROTECT, related_name="orders")
    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="+")
    platform_order_id = models.CharField(max_length=40)
    line_ids = models.JSONField(default=dict, help_text="Our line number -> the shop's line item id.")
    shop_updated_at = models.CharField(
        max_length=40,
        blank=True,
        help_text="The shop's time of the last change applied (its updated_at / date_modified_gmt): an "
        "older update arriving late is not applied over a newer one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "platform_order_id"], name="shop_order_once")
        ]

    def __str__(self) -> str:
        return f"{self.connection.code} order {self.platform_order_id}"


class ShopSyncKind(models.TextChoices):
    FULFILMENT = "fulfilment", "Fulfilment"  # a shipment handed over: carrier and tracking number
    CANCELLATION = "cancellation", "Cancellation"  # cancelled here
    REFUND = "refund", "Refund"  # a return credited as money back: the shop refunds its payment


class ShopSyncStatus(models.TextChoices):
    PENDING = "pending", "Waiting"  # to be sent, or retried after a failure
    SUCCEEDED = "succeeded", "Told the shop"  # the platform's API accepted it
    SKIPPED = "skipped", "Nothing to tell"  # the shop knows already (it cancelled the order itself)
    FAILED = "failed", "Given up"  # every retry failed: see the last answer, then send again


SHOP_SYNC_TRANSITIONS: dict[str, frozenset[str]] = {
    ShopSyncStatus.PENDING: frozenset(
        {ShopSyncStatus.SUCCEEDED, ShopSyncStatus.FAILED, ShopSyncStatus.SKIPPED}
    ),
    ShopSyncStatus.FAILED: frozenset({ShopSyncStatus.PENDING}),  # sent again by ops
    ShopSyncStatus.SUCCEEDED: frozenset(),
    ShopSyncStatus.SKIPPED: frozenset(),
}


class ShopSync(models.Model):
    """One thing to tell a shop about one of its orders, kept until the shop's API took it: the
    outbox of the status sync back, with each try's request and answer for the order page."""

    link = models.ForeignKey(ShopOrderLink, on_delete=models.CASCADE, related_name="syncs")
    kind = models.CharField(max_length=16, choices=ShopSyncKind.choices)
    reference = models.CharField(
        max_length=40, help_text="What it is about: a shipment (SH-0000012), the order."
    )
    shipment_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ShopSyncStatus.choices, default=ShopSyncStatus.PENDING)
    steps_done = models.JSONField(default=list, blank=True, help_text="Calls that succeeded, not made again.")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_request = models.JSONField(
        default=dict, blank=True, help_text="Method, path and body of the last call."
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "shop status sync"
        constraints = [models.UniqueConstraint(fields=["link", "kind", "reference"], name="shop_sync_once")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="shop_sync_due", condition=Q(status="pending"))
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} to {self.link}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # uploaded, waiting for the worker
    CHECKING = "checking", "Checking"  # every order tried and rolled back: all problems found at once
    WRITING = "writing", "Creating orders"  # no problem found: every order written in one transaction
    DONE = "done", "Done"  # the orders are in
    FAILED = "failed", "Refused"  # a row has a problem: nothing of the file was taken


IMPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    ImportStatus.QUEUED: frozenset({ImportStatus.CHECKING, ImportStatus.FAILED}),
    # back to queued: the worker died part-way (the check writes nothing, the writing is one
    # transaction that died with it), so the file is simply taken again
    ImportStatus.CHECKING: frozenset({ImportStatus.WRITING, ImportStatus.FAILED, ImportStatus.QUEUED}),
    ImportStatus.WRITING: frozenset({ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.QUEUED}),
    ImportStatus.DONE: frozenset(),
    ImportStatus.FAILED: frozenset(),
}


class OrderImport(models.Model):
    """A file of orders from a marketplace without an API (CSV or JSON), taken all or nothing."""

    channel = models.ForeignKey("orders.Channel", on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=4, choices=[("csv", "CSV"), ("json", "JSON")])
    content = models.TextField()
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Orders in the file.")
    checked = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0, help_text="Orders the channel had sent already.")
    problems = models.JSONField(default=list, blank=True, help_text="[{row, field, message}], by row.")
    uploaded_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, help_text="The last sign of life of its worker.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "order import"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"


class ExportFeed(models.TextChoices):
    INVOICES = "invoices", "Invoices"  # one per shipment handed over: what was shipped, at what price
    CREDITS = "credits", "Credits"  # one per return credited: what the customer gets back
    STOCK_VALUATION = "stock_valuation", "Stock valuation"  # one per warehouse and day: units x cost


class ExportEntry(models.Model):
    """One entry of an ERP feed. ``key`` makes writing it twice (a redelivered event) harmless;
    ``seq`` is stamped in one serialised step when the feed is read, so an entry whose transaction
    committed late still comes after every entry a reader has seen: a cursor on ``seq`` skips
    nothing (a cursor on the row id would)."""

    feed = models.CharField(max_length=20, choices=ExportFeed.choices)
    key = models.CharField(max_length=80)
    seq = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "export entries"
        constraints = [
            models.UniqueConstraint(fields=["feed", "key"], name="export_entry_once"),
            models.UniqueConstraint(fields=["feed", "seq"], name="export_seq_once"),
        ]
        indexes = [
            models.Index(fields=["feed", "id"], name="export_unstamped", condition=Q(seq__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.feed} {self.key}"


class ExportSequence(models.Model):
    feed = models.CharField(max_length=20, unique=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.feed} at {self.last_seq}"


class ExportAck(models.Model):
    """How far an integration's key has taken a feed: its next read starts after it."""

    api_key = models.ForeignKey("orders.ApiKey", on_delete=models.CASCADE, related_name="+")
    feed = models.CharField(max_length=20, choices=ExportFeed.choices)
    acked_seq = models.BigIntegerField(default=0)
    acked_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "feed"], name="export_ack_once")]

    def __str__(self) -> str:
        return f"{self.api_key_id} took {self.feed} to {self.acked_seq}"


class ProductCost(models.Model):
    """What a unit of a SKU costs us, from a day on (append-only: a new cost is a new row), for the
    stock valuation feed."""

    sku = models.CharField(max_length=64)
    unit_cost = models.DecimalField(max_digits=14, decimal_places=4)
    currency = models.CharField(max_length=3)
    valid_from = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sku", "valid_from"], name="product_cost_once")]

    def __str__(self) -> str:
        return f"{self.sku}: {self.unit_cost} {self.currency} from {self.valid_from}"
