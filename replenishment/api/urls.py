from django.urls import path

from replenishment.api import views

urlpatterns = [
    path("replenishment/suggestions/", views.SuggestionsView.as_view(), name="replenishment-suggestions"),
    path(
        "replenishment/purchase-orders/",
        views.PurchaseOrdersView.as_view(),
        name="replenishment-purchase-orders",
    ),
    path(
        "replenishment/purchase-orders/<int:purchase_order_id>/",
        views.PurchaseOrderDetailView.as_view(),
        name="replenishment-purchase-order",
    ),
    path(
        "replenishment/purchase-orders/<int:purchase_order_id>/receipts/",
        views.PurchaseOrderReceiptView.as_view(),
        name="replenishment-purchase-order-receive",
    ),
]
