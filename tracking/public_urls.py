from django.urls import path

from tracking import views

urlpatterns = [
    path("<str:token>/", views.track_page, name="track_page"),
]
