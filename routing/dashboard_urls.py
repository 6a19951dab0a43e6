from django.urls import path

from routing import views

urlpatterns = [
    path("exceptions/", views.exceptions, name="exceptions"),
    path("orders/<int:order_id>/reroute/", views.reroute, name="reroute"),
]
