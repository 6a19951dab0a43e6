from django.urls import path

from returns.api import views

urlpatterns = [
    path("returns/", views.ReturnsView.as_view(), name="returns"),
    path("returns/reasons/", views.ReturnReasonsView.as_view(), name="return-reasons"),
    path("returns/<int:return_id>/", views.ReturnDetailView.as_view(), name="return-detail"),
    path("returns/<int:return_id>/cancel/", views.ReturnCancelView.as_view(), name="return-cancel"),
    path("returns/<int:return_id>/label/", views.ReturnLabelView.as_view(), name="return-label"),
    path("returns/<int:return_id>/label.pdf", views.ReturnLabelFileView.as_view(), name="return-label-pdf"),
    path("credits/", views.CreditsView.as_view(), name="credits"),
    path("fulfilment/returns/", views.ExpectedReturnsView.as_view(), name="expected-returns"),
    path("fulfilment/returns/<int:return_id>/receive/", views.ReceiveView.as_view(), name="return-receive"),
    path("fulfilment/returns/<int:return_id>/inspect/", views.InspectView.as_view(), name="return-inspect"),
]
