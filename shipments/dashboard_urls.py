from django.urls import path

from shipments import views

urlpatterns = [
    path("", views.work_queue, name="work_queue"),
    path("warehouses/<int:warehouse_id>/wave/", views.wave_release, name="wave_release"),
    path("pick-lists/<int:pick_list_id>/", views.pick_list_detail, name="pick_list"),
    path("pick-lists/<int:pick_list_id>.pdf", views.pick_list_pdf, name="pick_list_pdf"),
    path("pick-lists/<int:pick_list_id>/cancel/", views.pick_list_cancel, name="pick_list_cancel"),
    path("pack/<int:warehouse_id>/<int:order_id>/", views.pack, name="pack"),
    path("orders/<int:order_id>/reject/", views.warehouse_reject, name="warehouse_reject"),
    path("shipments/<int:shipment_id>/", views.shipment_detail, name="shipment"),
    path("shipments/<int:shipment_id>/<slug:action>/", views.shipment_action, name="shipment_action"),
    path("labels/<int:package_id>.<str:format>", views.label_download, name="label"),
]
