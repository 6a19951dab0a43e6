from django.urls import path

from shipments.api import views

urlpatterns = [
    path("fulfilment/pick-lists/", views.PickListsView.as_view(), name="pick-lists"),
    path(
        "fulfilment/pick-lists/<int:pick_list_id>/confirm/",
        views.PickListConfirmView.as_view(),
        name="pick-list-confirm",
    ),
]
