from django.urls import path

from inventory import views

urlpatterns = [
    path("", views.stock_list, name="stock_list"),
    path("attention/", views.stock_alerts, name="stock_alerts"),
    path("<str:sku>/", views.stock_detail, name="stock_detail"),
]
