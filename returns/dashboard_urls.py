from django.urls import path

from returns import views

urlpatterns = [
    path("", views.return_list, name="list"),
    path("export.csv", views.return_export, name="export"),
    path("bulk/", views.return_bulk, name="bulk"),
    path("rates/", views.return_rates, name="rates"),
    path("new/<int:order_id>/", views.return_new, name="new"),
    path("<int:return_id>/", views.return_detail, name="detail"),
    path("<int:return_id>/receive/", views.return_receive, name="receive"),
    path("<int:return_id>/<slug:action>/", views.return_action, name="action"),
]
