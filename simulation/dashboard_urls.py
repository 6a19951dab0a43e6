from django.urls import path

from simulation import views

urlpatterns = [
    path("", views.runs, name="runs"),
    path("<int:run_id>/", views.run_detail, name="run"),
    path("<int:run_id>/json/", views.run_json, name="run_json"),
]
