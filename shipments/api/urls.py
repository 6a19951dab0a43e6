from django.urls import path

from shipments.api import views

urlpatterns = [
    path("fulfilment/pick-lists/", views.PickListsView.as_view(), name="pick-lists"),
    path(
        "fulfilment/pick-lists/<int:pick_list_id>/confirm/",
        views.PickListConfirmView.as_view(),
        name="pick-list-confirm",
    ),
    path("fulfilment/packages/", views.PackagesView.as_view(), name="packages"),
    path(
        "fulfilment/packages/<int:package_id>/label.<str:kind>",
        views.PackageLabelView.as_view(),
        name="label",
    ),
    path("fulfilment/shipments/<int:shipment_id>/labels/", views.ShipmentLabelsView.as_view(), name="labels"),
    path(
        "fulfilment/shipments/<int:shipment_id>/hand-over/",
        views.ShipmentHandOverView.as_view(),
        name="hand-over",
    ),
]
