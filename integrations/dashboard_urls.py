from django.urls import path

from integrations import views

urlpatterns = [
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/deliveries/<int:delivery_id>/", views.delivery_detail, name="delivery"),
    path("webhooks/replay/", views.replay_selected, name="replay"),
    path("webhooks/replay-range/", views.replay_range, name="replay_range"),
    path("webhooks/endpoints/<int:endpoint_id>/enable/", views.endpoint_enable, name="enable"),
    path("shops/", views.shop_inbox, name="shops"),
    path("imports/", views.imports_page, name="imports"),
    path("imports/<int:import_id>/", views.import_detail, name="import"),
    path("shops/retry/", views.shop_retry, name="shop_retry"),
    path("shops/syncs/<int:sync_id>/retry/", views.shop_sync_retry, name="shop_sync_retry"),
]
