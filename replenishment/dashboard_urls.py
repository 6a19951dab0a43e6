from django.urls import path

from replenishment import views

urlpatterns = [
    path("", views.suggestion_list, name="suggestions"),
    path("decide/", views.suggestion_bulk, name="suggestion_bulk"),
    path("purchase-orders/", views.purchase_order_list, name="purchase_orders"),
    path(
        "purchase-orders/<int:purchase_order_id>/send/", views.purchase_order_send, name="purchase_order_send"
    ),
    path(
        "purchase-orders/<int:purchase_order_id>/receive/",
        views.purchase_order_receive,
        name="purchase_order_receive",
    ),
    path(
        "purchase-orders/<int:purchase_order_id>/order.pdf",
        views.purchase_order_document,
        {"kind": "pdf"},
        name="purchase_order_pdf",
    ),
    path(
        "purchase-orders/<int:purchase_order_id>/order.csv",
        views.purchase_order_document,
        {"kind": "csv"},
        name="purchase_order_csv",
    ),
    path("production/", views.production, name="production"),
    path(
        "production/sites/<int:site_id>/schedule/", views.production_reschedule, name="production_reschedule"
    ),
    path(
        "production/orders/<int:production_order_id>/",
        views.production_order_action,
        name="production_order_action",
    ),
]
