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
    path("inventory/transfers/", views.TransfersView.as_view(), name="inventory-transfers"),
    path(
        "inventory/transfers/<int:transfer_id>/",
        views.TransferDetailView.as_view(),
        name="inventory-transfer",
    ),
    path(
        "inventory/transfers/<int:transfer_id>/ship/",
        views.TransferShipView.as_view(),
        name="inventory-transfer-ship",
    ),
    path(
        "inventory/transfers/<int:transfer_id>/receive/",
        views.TransferReceiveView.as_view(),
        name="inventory-transfer-receive",
    ),
    path(
        "inventory/transfers/<int:transfer_id>/cancel/",
        views.TransferCancelView.as_view(),
        name="inventory-transfer-cancel",
    ),
]
