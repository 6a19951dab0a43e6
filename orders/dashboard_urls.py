from django.urls import path

from orders import views

urlpatterns = [
    path("orders/", views.order_list, name="order_list"),
    path("orders/export.csv", views.order_export, name="order_export"),
    path("orders/bulk/", views.order_bulk, name="order_bulk"),
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<int:order_id>/hold/", views.order_hold, name="order_hold"),
    path("orders/<int:order_id>/release/", views.order_release, name="order_release"),
]
