from django.urls import path

from tracking import views

urlpatterns = [
    path("", views.tracking_dashboard, name="dashboard"),
    path("calls/retry/", views.carrier_calls_retry, name="calls_retry"),
]
