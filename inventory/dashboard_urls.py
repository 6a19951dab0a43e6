from django.urls import path

from inventory import views

urlpatterns = [
    path("", views.stock_list, name="stock_list"),
    path("export.csv", views.stock_export, name="stock_export"),
    path("attention/", views.stock_alerts, name="stock_alerts"),
    path("transfers/", views.transfer_list, name="transfer_list"),
    path("transfers/new/", views.transfer_create, name="transfer_create"),
    path("transfers/<int:transfer_id>/<slug:action>/", views.transfer_action, name="transfer_action"),
    path("<str:sku>/", views.stock_detail, name="stock_detail"),
    path("<str:sku>/adjust/", views.stock_adjust, name="stock_adjust"),
]
