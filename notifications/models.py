"""Customer messages: which triggers each channel sends, its branding and templates, every message
decided (the message outbox), what happened to it, and the addresses that must not be written to."""

from datetime import time

from django.db import models

from oms.models import DomainEvent


class Trigger(models.TextChoices):
    ORDER_CONFIRMED = "order_confirmed", "Order confirmed"  # routed: stock is reserved for it
    ORDER_BACKORDERED = "order_backordered", "Order backordered"  # waiting for stock
    ORDER_CANCELLED = "order_cancelled", "Order cancelled"
    SHIPPED = "shipped", "Shipped"  # handed to the carrier, with tracking link and estimate
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted", "Delivery attempt failed"
    DELIVERED = "delivered", "Delivered"
    DELAYED = "delayed", "Delayed"  # with the new estimate
    EXCEPTION = "exception", "Delivery problem"  # lost, damaged, held at customs, address problem
    RETURN_AUTHORISED = "return_authorised", "Return authorised"  # with its label when one was bought
    RETURN_REJECTED = "return_rejected", "Return rejected"  # with the reason
    RETURN_RECEIVED = "return_received", "Return received"
    RETURN_CREDITED = "return_credited", "Return credited"


class Category(models.TextChoices):
    # What the customer must get to complete the purchase (confirmation, cancellation, return decisions
    # and credits): the law allows these without consent, so unsubscribing does not stop them.
    TRANSACTIONAL = "transactional", "Order and return receipts"
    # Progress updates: the customer may turn these off with one click.
    DELIVERY = "delivery", "Delivery updates"


class Medium(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"  # decided; waits for its debounce or the end of quiet hours
    SENT = "sent", "Sent"  # the backend (SMTP server, provider) accepted it
    FAILED = "failed", "Failed"  # a permanent refusal (bad address, provider said no) or retries gave up
    SUPPRESSED = "suppressed", "Suppressed"  # the address unsubscribed, bounced or complained
    SUPERSEDED = "superseded", "Superseded"  # a later state of the same order went instead (debounce)


MESSAGE_TRANSITIONS: dict[str, frozenset[str]] = {
    MessageStatus.SCHEDULED: frozenset(
        {MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SUPPRESSED, MessageStatus.SUPERSEDED}
    ),
    MessageStatus.SENT: frozenset(),
    MessageStatus.FAILED: frozenset(),
    MessageStatus.SUPPRESSED: frozenset(),
    MessageStatus.SUPERSEDED: frozenset(),
}


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    GREEK = "el", "Greek"


def default_email_triggers() -> list[str]:
    return list(Trigger.values)


def default_sms_triggers() -> list[str]:
    return [Trigger.OUT_FOR_DELIVERY, Trigger.DELIVERY_ATTEMPTED]


class MessagingSetting(models.Model):
    """Branding and templates: workers keep them for a few seconds (notifications.rendering); saving or
    deleting one makes this process forget its copy now, so that an admin's preview and the next
    message use the edit."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        _settings_changed()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        _settings_changed()
        return result


def _settings_changed() -> None:
    from notifications.rendering import settings_changed

    settings_changed()


class ChannelMessaging(MessagingSetting):
    """How a channel speaks to its customers: which triggers go by e-mail and by SMS, in which language
    by default, under which brand and sender, and when not to disturb. A channel without a row uses
    the defaults (every e-mail trigger, SMS for the doorstep ones, the channel's name as brand)."""

    channel = models.OneToOneField(
        "orders.Channel", primary_key=True, on_delete=models.CASCADE, related_name="messaging"
    )
    email_triggers = models.JSONField(default=default_email_triggers, blank=True)
    sms_triggers = models.JSONField(default=default_sms_triggers, blank=True)
    language = models.CharField(
        max_length=2,
        choices=Language.choices,
        default=Language.ENGLISH,
        help_text="For orders that do not say which language their customer reads.",
    )
    brand_name = models.CharField(max_length=80, blank=True, help_text="Blank: the channel's name.")
    logo_url = models.URLField(max_length=300, blank=True, help_text="An https image shown atop e-mails.")
    colour = models.CharField(
        max_length=7, default="#1f4e79", help_text="Brand colour for headings and buttons, as #rrggbb."
    )
    sender_email = models.EmailField(blank=True, help_text="From address; blank: DEFAULT_FROM_EMAIL.")
    sender_name = models.CharField(max_length=80, blank=True, help_text="Blank: the brand name.")
    reply_to = models.EmailField(blank=True)
    sms_sender = models.CharField(
        max_length=16,
        blank=True,
        help_text="SMS sender: an E.164 number or up to 11 letters; blank: the default.",
    )
    quiet_start = models.TimeField(
        default=time(21, 0), help_text="From this local time of the customer, updates wait until quiet_end."
    )
    quiet_end = models.TimeField(default=time(8, 0))

    class Meta:
        verbose_name = "channel messaging"
        verbose_name_plural = "channel messaging"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(colour__regex=r"^#[0-9a-fA-F]{6}$"), name="messaging_colour_hex"
            )
        ]

    def __str__(self) -> str:
        return f"messaging of {self.channel}"


class MessageTemplate(MessagingSetting):
    """A channel's (or every channel's) wording of one trigger in one language. A blank part falls
    back to the built-in wording (notifications/defaults.py), so a template may change only the SMS."""

    trigger = models.CharField(max_length=24, choices=Trigger.choices)
    language = models.CharField(max_length=2, choices=Language.choices)
    channel = models.ForeignKey(
        "orders.Channel",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="message_templates",
        help_text="Blank: every channel without a template of its own.",
    )
    subject = models.CharField(max_length=200, blank=True)
    html = models.TextField(blank=True, help_text="The e-mail's HTML body (Django template language).")
    text = models.TextField(blank=True, help_text="The e-mail's plain-text body.")
    sms = models.TextField(blank=True, help_text="The SMS text; keep it to one or two segments.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["trigger", "language", "channel"], name="template_per_trigger_language_channel"
            ),
            models.UniqueConstraint(
                fields=["trigger", "language"],
                condition=models.Q(channel__isnull=True),
                name="template_per_trigger_language_all_channels",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} ({self.language}, {self.channel or 'all channels'})"


class Message(models.Model):
    """One message to one recipient, recorded in the transaction that decided to send it (the outbox);
    the send task renders and hands it to the backend. Unique per (event, trigger, medium, recipient),
    so a redelivered event never writes it twice."""

    event = models.ForeignKey(DomainEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey("orders.Channel", on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField(max_length=24, choices=Trigger.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    medium = models.CharField(max_length=8, choices=Medium.choices)
    recipient = models.CharField(max_length=254)
    language = models.CharField(max_length=2, choices=Language.choices)
    status = models.CharField(max_length=12, choices=MessageStatus.choices, default=MessageStatus.SCHEDULED)
    urgent = models.BooleanField(default=False, help_text="Goes out during quiet hours.")
    data = models.JSONField(
        default=dict, blank=True, help_text="What the event said (shipment, return, reason)."
    )
    send_after = models.DateTimeField(help_text="Debounce, quiet hours or retry back-off end here.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body_html = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    provider_id = models.CharField(max_length=200, blank=True, help_text="The backend's id of the message.")
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "trigger", "medium", "recipient"], name="message_once_per_event"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "send_after"], name="message_due"),
            models.Index(fields=["order", "-id"], name="message_order_recent"),
            models.Index(fields=["-id"], name="message_recent"),
            models.Index(fields=["provider_id"], name="message_provider_id"),
            models.Index(fields=["sent_at"], name="message_sent_at"),
            models.Index(fields=["recipient", "-id"], name="message_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} to {self.recipient}"


class MessageEventKind(models.TextChoices):
    SENT = "sent", "Sent"
    DEFERRED = "deferred", "Deferred"  # a temporary failure; tried again later
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    SUPERSEDED = "superseded", "Superseded"
    RESENT = "resent", "Sent again by ops"  # on the copy, naming the original
    DELIVERED = "delivered", "Delivered"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Marked as spam"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class MessageEvent(models.Model):
    """What happened to a message, appended and never changed: the history the rates are counted from."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=MessageEventKind.choices)
    at = models.DateTimeField()
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["at", "kind"], name="message_event_when")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Hard bounce"
    COMPLAINED = "complained", "Spam complaint"
    REFUSED = "refused", "Refused by the provider"


class Suppression(models.Model):
    """An address not to write to: for one category (unsubscribed from delivery updates) or for every
    message (``category`` blank: the address bounced, complained or the provider refuses it)."""

    address = models.CharField(max_length=254, help_text="E-mail lower-case, or phone in E.164.")
    category = models.CharField(max_length=16, choices=Category.choices, blank=True)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["address", "category"], name="suppression_once_per_category")
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.category or 'everything'})"
