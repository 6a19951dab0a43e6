from django.urls import path

from tracking import views

urlpatterns = [
    path("", views.tracking_dashboard, name="dashboard"),
]
