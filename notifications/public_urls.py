from django.urls import path

from notifications import public, webhooks

app_name = "notifications-public"

urlpatterns = [
    path("o/<str:token>.gif", public.opened, name="opened"),
    path("c/<str:token>/", public.clicked, name="clicked"),
    path("u/<str:token>/", public.unsubscribe, name="unsubscribe"),
    path("twilio/status/", webhooks.twilio_status, name="twilio_status"),
    path("anymail/mailgun/tracking/", webhooks.mailgun_tracking, name="mailgun_tracking"),
]
