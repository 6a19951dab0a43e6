"""The OpenAPI schema tells the truth; production settings pass Django's deploy checks; the apps
depend on each other in one direction only."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
# Lower apps never import higher ones (see README, "Dependency direction").
APP_ORDER = [
    "oms",
    "orders",
    "inventory",
    "replenishment",
    "routing",
    "shipments",
    "tracking",
    "returns",
    "notifications",
    "kpis",
    "integrations",
    "demo",
    "simulation",
]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_lists_every_endpoint_with_its_errors(schema):
    paths = schema["paths"]
    assert set(paths) >= {
        "/api/v1/orders/",
        "/api/v1/orders/{order_id}/",
        "/api/v1/orders/{order_id}/cancel/",
        "/api/v1/products/",
        "/api/v1/products/bulk/",
    }
    create = paths["/api/v1/orders/"]["post"]
    assert set(create["responses"]) == {
        "201",
        "400",
        "401",
        "403",
        "406",
        "409",
        "413",
        "415",
        "422",
        "429",
        "503",
    }
    error_ref = create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref.endswith("/Error")
    assert "OrderCreateRequest" in create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    listing = paths["/api/v1/orders/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "updated_since", "external_id", "cursor"}
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A channel key (scope orders) or an integration key "
        "(scopes catalog, inventory, credits).",
    }
    order = schema["components"]["schemas"]["Order"]["properties"]
    assert order["total"]["type"] == "string"
    assert "lines" in order and "customer" in order


def test_schema_states_the_limits_the_code_enforces(schema):
    components = schema["components"]["schemas"]
    create = components["OrderCreateRequest"]["properties"]
    assert (create["lines"]["minItems"], create["lines"]["maxItems"]) == (1, 500)
    assert components["CustomerRequest"]["properties"]["email"]["maxLength"] == 254
    assert components["CustomerRequest"]["properties"]["first_name"]["pattern"] == "^[^\\u0000]*$"
    assert components["ProductsBulkRequest"]["properties"]["products"]["minItems"] == 1
    for batch in ("ReceiptBatchRequest", "AdjustmentBatchRequest", "StockCountBatchRequest"):
        assert components[batch]["properties"]["rows"]["minItems"] == 1
    assert components["ReceiptRowRequest"]["properties"]["quantity"]["minimum"] == 1
    assert set(components["AdjustmentRowRequest"]["required"]) == {"warehouse", "sku", "quantity", "reason"}
    assert components["AdjustmentRowRequest"]["properties"]["reason"]["minLength"] == 1
    assert components["PackageCreateRequest"]["properties"]["contents"]["minItems"] == 1
    price = components["OrderLineRequest"]["properties"]["unit_price"]
    assert (price["type"], price["pattern"]) == ("string", "^\\d{1,11}(\\.\\d{1,3})?$")
    paths = schema["paths"]
    listing = {p["name"]: p["schema"] for p in paths["/api/v1/orders/"]["get"]["parameters"]}
    assert listing["external_id"]["minLength"] == 1
    assert listing["status"]["minItems"] == 1
    assert (listing["page_size"]["minimum"], listing["page_size"]["maximum"]) == (1, 200)
    availability = paths["/api/v1/inventory/availability/"]["get"]["parameters"]
    assert next(p for p in availability if p["name"] == "sku")["schema"]["minLength"] == 1
    key = next(p for p in paths["/api/v1/orders/"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert key["schema"]["maxLength"] == 255 and "pattern" in key["schema"]
    # every operation answers 400 (a NUL in the address, an empty parameter) and 406; bodies 413 and 415
    for path in paths.values():
        for method, operation in path.items():
            assert {"400", "406"} <= set(operation["responses"]), (method, operation["operationId"])
            if "requestBody" in operation:
                assert {"413", "415"} <= set(operation["responses"]), operation["operationId"]


def test_schema_generation_has_no_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--fail-on-warn", "--validate", "--file", os.devnull],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_docs_page_works_offline(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in response.content


def test_production_settings_pass_the_deploy_check():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "oms.settings_production",
        "SECRET_KEY": "k2Jf8-qP0zR7vW3mN9xL4tY6uB1cH5gD0sA8eQ2wZ7oI3rT6yU",
        "ALLOWED_HOSTS": "oms.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "oms.settings_production", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def imported_apps(app: str) -> set[str]:
    found = set()
    for path in (ROOT / app).rglob("*.py"):
        if "migrations" in path.parts or "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found |= {name.split(".")[0] for name in names if name.split(".")[0] in APP_ORDER}
    return found - {app}


@pytest.mark.parametrize("app", APP_ORDER)
def test_apps_import_only_lower_apps(app):
    allowed = set(APP_ORDER[: APP_ORDER.index(app)])
    assert imported_apps(app) <= allowed, f"{app} imports {imported_apps(app) - allowed}"


def test_the_embedded_broker_keeps_all_its_files_under_var(tmp_path):
    """The file-system transport wrote its exchange table to ./control wherever a process started."""
    script = "import django; django.setup()\nfrom oms.tasks import outbox_relay\noutbox_relay.apply_async()\n"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "OMS_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, timeout=60)
    assert not (tmp_path / "control").exists()
    assert (tmp_path / "var" / "broker-control" / "default.exchange").exists()
    assert list((tmp_path / "var" / "broker").iterdir())


def test_the_architecture_document_names_every_app_event_handler_and_registry():
    """docs/architecture.md stays current: a new app, subscription or registry must be written there."""
    from oms.events import _subscriptions

    text = (ROOT / "docs" / "architecture.md").read_text()
    for app in APP_ORDER:
        assert f"`{app}`" in text, app
    for event_name, subscriptions in _subscriptions.items():
        if event_name.startswith("test."):
            continue
        assert f"`{event_name}`" in text, event_name
        for subscription in subscriptions:
            assert subscription.name in text, subscription.name
    for registry in (
        "NAVIGATION",
        "ORDER_PANELS",
        "ORDER_LIST_FILTERS",
        "ORDER_BULK_ACTIONS",
        "ORDER_EDITORS",
        "ORDER_DELIVERY_PROVIDERS",
        "SHIPPING_QUOTERS",
        "TRACKING_PAGE_SECTIONS",
    ):
        assert registry in text, registry
    # the project documents itself: no pointer to a design document it does not have
    outside = "ARCHITECTURE" + ".md"
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        assert outside not in document.read_text(), document
    for source in sorted(ROOT.glob("*/**/*.py")):
        if ".venv" not in source.parts:
            assert outside not in source.read_text(), source


@pytest.mark.django_db(transaction=True)
def test_the_health_check_answers_while_the_database_does(client):
    from django.db import connection

    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    # the web process keeps answering, and says so, with its database gone (nothing listens on 9)
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "9"
    try:
        down = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert down.status_code == 503 and down["Retry-After"] == "5"
    assert down.json()["database"] == "down"
    assert client.get("/healthz").status_code == 200  # and recovers without a restart
