from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from oms.api.exceptions import body_too_large_message, rendered_error
from oms.health import healthz
from oms.login_throttle import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm

admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="kpis:home", permanent=False)),
    # Browsers and tools ask for /favicon.ico whatever the page says.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=ThrottledAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", include(("orders.dashboard_urls", "dashboard"))),
    path("dashboard/inventory/", include(("inventory.dashboard_urls", "inventory"))),
    path("dashboard/routing/", include(("routing.dashboard_urls", "routing"))),
    path("dashboard/replenishment/", include(("replenishment.dashboard_urls", "replenishment"))),
    path("dashboard/fulfilment/", include(("shipments.dashboard_urls", "shipments"))),
    path("dashboard/tracking/", include(("tracking.dashboard_urls", "tracking"))),
    path("dashboard/returns/", include(("returns.dashboard_urls", "returns"))),
    path("dashboard/messages/", include(("notifications.dashboard_urls", "notifications"))),
    path("dashboard/kpis/", include(("kpis.dashboard_urls", "kpis"))),
    path("dashboard/integrations/", include(("integrations.dashboard_urls", "integrations"))),
    path("dashboard/simulation/", include(("simulation.dashboard_urls", "simulation"))),
    path("track/", include("tracking.public_urls")),
    path("n/", include("notifications.public_urls")),
    path("track/<str:token>/returns/", include(("returns.public_urls", "returns-public"))),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(("orders.api.urls", "api"))),
    path("api/v1/", include(("inventory.api.urls", "inventory-api"))),
    path("api/v1/", include(("shipments.api.urls", "shipments-api"))),
    path("api/v1/", include(("tracking.api.urls", "tracking-api"))),
    path("api/v1/", include(("returns.api.urls", "returns-api"))),
    path("api/v1/", include(("replenishment.api.urls", "replenishment-api"))),
    path("api/v1/", include(("integrations.api.urls", "integrations-api"))),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
]


def api_not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return rendered_error(404, "not_found", "No such endpoint.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def bad_request(request, exception=None):
    """Django's own refusals (a body over the size limit read outside a view, a bad host): the API's
    error shape under /api/, a page elsewhere."""
    if isinstance(exception, RequestDataTooBig):
        if request.path.startswith("/api/"):
            return rendered_error(413, "body_too_large", body_too_large_message())
        return render(request, "400.html", {"message": body_too_large_message()}, status=413)
    if request.path.startswith("/api/"):
        return rendered_error(400, "bad_request", "The request is malformed.")
    return render(request, "400.html", {}, status=400)


handler404 = api_not_found
handler400 = bad_request
