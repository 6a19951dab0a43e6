"""Admins choose each channel's triggers, branding and quiet hours, and word its messages here; a
template is checked when it is saved and can be previewed on a real order. Messages are read-only
(services send them); a suppression deleted here lets the address receive messages again."""

from django import forms
from django.contrib import admin
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html

from notifications.defaults import CONTEXT_HELP, default_parts
from notifications.models import (
    ChannelMessaging,
    Message,
    MessageEvent,
    MessageTemplate,
    Suppression,
    Trigger,
)
from notifications.rendering import (
    PARTS,
    RenderFailed,
    message_context,
    render_parts,
    sms_segments,
    sources,
    template_problems,
)
from notifications.services import RULES
from oms.admin import ReadOnlyAdmin
from orders.models import Order


class ChannelMessagingForm(forms.ModelForm):
    logo_url = forms.URLField(
        max_length=300, required=False, assume_scheme="https", help_text="An https image shown atop e-mails."
    )
    email_triggers = forms.MultipleChoiceField(
        choices=Trigger.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the channel's customers are told by e-mail.",
    )
    sms_triggers = forms.MultipleChoiceField(
        choices=Trigger.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What they are also told by SMS (when the order has a phone number).",
    )

    class Meta:
        model = ChannelMessaging
        fields = [
            "channel",
            "email_triggers",
            "sms_triggers",
            "language",
            "brand_name",
            "logo_url",
            "colour",
            "sender_email",
            "sender_name",
            "reply_to",
            "sms_sender",
            "quiet_start",
            "quiet_end",
        ]

    def clean_colour(self):
        colour = self.cleaned_data["colour"].strip()
        if (
            len(colour) != 7
            or not colour.startswith("#")
            or any(c not in "0123456789abcdefABCDEF" for c in colour[1:])
        ):
            raise forms.ValidationError("A colour as #rrggbb, e.g. #1f4e79.")
        return colour


@admin.register(ChannelMessaging)
class ChannelMessagingAdmin(admin.ModelAdmin):
    form = ChannelMessagingForm
    list_display = ["channel", "brand_name", "language", "sender_email", "quiet_start", "quiet_end"]


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["trigger", "language", "channel", "subject", "html", "text", "sms"]
        widgets = {
            "html": forms.Textarea(attrs={"rows": 18, "cols": 110, "class": "vLargeTextField mono"}),
            "text": forms.Textarea(attrs={"rows": 8, "cols": 110}),
            "sms": forms.Textarea(attrs={"rows": 3, "cols": 110}),
        }

    def clean(self):
        data = super().clean()
        trigger, language = data.get("trigger"), data.get("language")
        if not trigger or not language:
            return data
        parts = default_parts(trigger, language)
        parts.update({name: data[name] for name in PARTS if (data.get(name) or "").strip()})
        for name, problem in template_problems(parts, trigger).items():
            self.add_error(name, f"This template cannot be rendered: {problem}")
        if "sms" not in self.errors and (data.get("sms") or "").strip():
            try:
                from notifications.rendering import sample_context

                sample = render_parts(parts, sample_context(trigger)).sms
            except RenderFailed:
                sample = ""
            units, segments, _ = sms_segments(sample)
            if segments > 3:
                self.add_error(
                    "sms",
                    f"Rendered, this SMS takes {segments} segments ({units} characters); "
                    "keep it to three at most.",
                )
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["trigger", "language", "channel", "updated_at", "preview_link"]
    list_filter = ["trigger", "language", "channel"]
    readonly_fields = ["variables", "built_in"]
    fieldsets = [
        (None, {"fields": ["trigger", "language", "channel"]}),
        ("Wording (a blank part keeps the built-in one)", {"fields": ["subject", "html", "text", "sms"]}),
        ("Help", {"fields": ["variables", "built_in"], "classes": ["collapse"]}),
    ]

    @admin.display(description="What a template can use")
    def variables(self, obj) -> str:
        return CONTEXT_HELP

    @admin.display(description="Built-in wording")
    def built_in(self, obj) -> str:
        if obj is None or not obj.trigger:
            return "Save once to see the built-in wording of the trigger."
        parts = default_parts(obj.trigger, obj.language)
        return format_html(
            "<pre style='white-space:pre-wrap'>{}\n\n{}\n\nSMS: {}</pre>",
            parts["subject"],
            parts["text"],
            parts["sms"],
        )

    @admin.display(description="Preview")
    def preview_link(self, obj) -> str:
        return format_html(
            '<a href="{}">Preview on an order</a>',
            reverse("admin:notifications_messagetemplate_preview", args=[obj.pk]),
        )

    def get_changeform_initial_data(self, request):
        # "Add" with ?trigger=…&language=… starts from the built-in wording, to edit rather than retype.
        initial = super().get_changeform_initial_data(request)
        trigger, language = request.GET.get("trigger"), request.GET.get("language")
        if trigger in Trigger.values and language in ("en", "el"):
            initial.update(default_parts(trigger, language))
        return initial

    def get_urls(self):
        return [
            path(
                "<int:template_id>/preview/",
                self.admin_site.admin_view(self.preview),
                name="notifications_messagetemplate_preview",
            ),
            *super().get_urls(),
        ]

    def preview(self, request, template_id: int):
        """The template rendered on a real order of its channel (or the order named by ?order=)."""
        template = get_object_or_404(MessageTemplate, pk=template_id)
        orders = Order.objects.select_related("channel", "shipping_address").order_by("-id")
        if template.channel_id:
            orders = orders.filter(channel_id=template.channel_id)
        order_id = request.GET.get("order", "")
        order = orders.filter(pk=int(order_id)).first() if order_id.isdigit() and len(order_id) < 19 else None
        order = order or orders.first()
        context = {
            **self.admin_site.each_context(request),
            "template": template,
            "order": order,
            "title": f"Preview: {template}",
            "opts": self.model._meta,
        }
        if order is not None:
            message = Message(
                order=order,
                channel=order.channel,
                trigger=template.trigger,
                language=template.language,
                category=RULES[template.trigger].category,
                medium="email",
                recipient=order.contact_email or "",
                data=_sample_data(order, template.trigger),
            )
            try:
                rendered = render_parts(
                    sources(template.trigger, template.language, template.channel_id),
                    message_context(message),
                )
            except RenderFailed as exc:
                context["problem"] = str(exc)
            else:
                context["rendered"] = rendered
                context["segments"] = sms_segments(rendered.sms)
        return render(request, "admin/notifications/preview.html", context)


def _sample_data(order: Order, trigger: str) -> dict:
    """The event data a trigger would carry for this order: its latest shipment or return."""
    data: dict = {}
    shipment = order.shipments.order_by("-id").first() if hasattr(order, "shipments") else None
    if shipment is not None:
        data["shipment_id"] = shipment.pk
    if trigger.startswith("return_"):
        from returns.models import Return

        ret = Return.objects.filter(lines__order_line__order=order).order_by("-id").first()
        if ret is not None:
            data["return_id"] = ret.pk
    return data


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "trigger", "medium", "recipient", "status", "send_after", "sent_at", "attempts"]
    list_filter = ["status", "trigger", "medium", "channel"]
    search_fields = ["recipient", "order__external_id"]
    raw_id_fields = ["order", "event", "superseded_by"]


@admin.register(MessageEvent)
class MessageEventAdmin(ReadOnlyAdmin):
    list_display = ["message", "kind", "at", "detail"]
    list_filter = ["kind"]


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["address", "category", "reason", "created_at"]
    list_filter = ["reason", "category"]
    search_fields = ["address"]
    raw_id_fields = ["message"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # delete one to let the address receive messages again; add one to stop them
