from django.urls import path

from kpis import views

urlpatterns = [
    path("", views.home, name="home"),
    path("alerts/", views.alerts, name="alerts"),
    path("<slug:code>/", views.detail, name="detail"),
    path("<slug:code>/orders/", views.orders, name="orders"),
    path("<slug:code>/export.csv", views.export, name="export"),
]
