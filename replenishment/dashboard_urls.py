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
]
