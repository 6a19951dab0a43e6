from django.urls import path

from integrations.api import views

urlpatterns = [
    path("exports/<str:feed>/", views.ExportFeedView.as_view(), name="export-feed"),
    path("exports/<str:feed>.csv", views.ExportFeedCsvView.as_view(), name="export-feed-csv"),
    path("exports/<str:feed>/ack/", views.ExportAckView.as_view(), name="export-ack"),
    path("shops/<slug:code>/webhooks/", views.ShopWebhookView.as_view(), name="shop-webhook"),
    path("webhooks/endpoints/", views.EndpointsView.as_view(), name="webhook-endpoints"),
    path(
        "webhooks/endpoints/<int:endpoint_id>/", views.EndpointDetailView.as_view(), name="webhook-endpoint"
    ),
    path(
        "webhooks/endpoints/<int:endpoint_id>/rotate-secret/",
        views.EndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate",
    ),
    path(
        "webhooks/endpoints/<int:endpoint_id>/deliveries/",
        views.EndpointDeliveriesView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/endpoints/<int:endpoint_id>/replay/",
        views.EndpointReplayView.as_view(),
        name="webhook-endpoint-replay",
    ),
]
