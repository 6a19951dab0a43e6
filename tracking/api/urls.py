from django.urls import path

from tracking.api import views

urlpatterns = [
    path("tracking/webhooks/<slug:carrier>/", views.CarrierWebhookView.as_view(), name="tracking_webhook"),
    path("track/<str:token>/", views.TrackView.as_view(), name="track"),
]
