from django.urls import path

from inventory.api import views

urlpatterns = [
    path("inventory/receipts/", views.ReceiptView.as_view(), name="inventory-receipt"),
    path("inventory/receipts/bulk/", views.ReceiptBatchView.as_view(), name="inventory-receipts-bulk"),
    path("inventory/adjustments/", views.AdjustmentView.as_view(), name="inventory-adjustment"),
    path(
        "inventory/adjustments/bulk/", views.AdjustmentBatchView.as_view(), name="inventory-adjustments-bulk"
    ),
    path("inventory/counts/", views.CountView.as_view(), name="inventory-counts"),
    path("inventory/availability/", views.AvailabilityView.as_view(), name="inventory-availability"),
]
