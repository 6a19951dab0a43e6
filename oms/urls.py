from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from oms.api.exceptions import error_response

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:order_list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", include(("orders.dashboard_urls", "dashboard"))),
    path("dashboard/inventory/", include(("inventory.dashboard_urls", "inventory"))),
    path("dashboard/routing/", include(("routing.dashboard_urls", "routing"))),
    path("dashboard/fulfilment/", include(("shipments.dashboard_urls", "shipments"))),
    path("dashboard/tracking/", include(("tracking.dashboard_urls", "tracking"))),
    path("track/", include("tracking.public_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("orders.api.urls", "api"))),
    path("api/v1/", include(("inventory.api.urls", "inventory-api"))),
    path("api/v1/", include(("shipments.api.urls", "shipments-api"))),
    path("api/v1/", include(("tracking.api.urls", "tracking-api"))),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="api-docs",
    ),
]


def api_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        response = error_response(404, "not_found", "No such endpoint.")
        from rest_framework.renderers import JSONRenderer

        response.accepted_renderer = JSONRenderer()
        response.accepted_media_type = "application/json"
        response.renderer_context = {}
        response.render()
        return response
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


handler404 = api_not_found
