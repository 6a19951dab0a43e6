from django.urls import path

from returns import public

urlpatterns = [
    path("", public.self_service, name="self_service"),
    path("<int:return_id>/", public.return_status, name="status"),
    path("<int:return_id>/label/", public.return_label, name="label"),
    path("<int:return_id>/label.pdf", public.return_label_pdf, name="label_pdf"),
]
