from django.urls import path

from orders.api import views

urlpatterns = [
    path("orders/", views.OrdersView.as_view(), name="orders"),
    path("orders/<int:order_id>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<int:order_id>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path("products/", views.ProductsView.as_view(), name="products"),
    path("products/bulk/", views.ProductsBulkView.as_view(), name="products-bulk"),
]
