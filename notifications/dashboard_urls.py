from django.urls import path

from notifications import views

urlpatterns = [
    path("", views.message_list, name="list"),
    path("export.csv", views.message_export, name="export"),
    path("rates/", views.message_rates, name="rates"),
    path("resend/", views.message_bulk_resend, name="bulk_resend"),
    path("<int:message_id>/", views.message_detail, name="detail"),
    path("<int:message_id>/resend/", views.message_resend, name="resend"),
]
