"""Django admin speaks as the OMS: its name, plural names people read, and rule set history in words."""

import pytest
from django.contrib.auth.models import User

from routing import services as routing
from routing.models import RuleSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    return client


def test_the_admin_is_branded_and_its_names_read_right(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "OMS back office · administration" in page
    assert "Django administration" not in page
    for name in (
        "Event deliveries",
        "Webhook deliveries",
        "Outbound webhook deliveries",
        "ETA predictions",
        "Lane transit times",
    ):
        assert name in page, name
    assert "deliverys" not in page.lower()


def test_rule_set_history_reads_as_words_not_json(admin_client):
    user = User.objects.get(username="root")
    rule_set = RuleSet.objects.create(name="express", max_shipments=2)
    routing.rule_set_record_edit(rule_set_id=rule_set.pk, user=user, changes={}, created=True)
    routing.rule_set_record_edit(
        rule_set_id=rule_set.pk,
        user=user,
        changes={
            "max_shipments": [2, 3],
            "warehouses": [["SKG"], ["ATH #1", "SKG"]],
            "exclude_stores": [False, True],
        },
    )
    page = admin_client.get(f"/admin/routing/ruleset/{rule_set.pk}/change/").content.decode()
    assert "Max shipments: 2 → 3" in page
    assert "Warehouses: added ATH #1" in page
    assert "Exclude stores: no → yes" in page
    assert '{"max_shipments": [2, 3]' not in page and "[2, 3]" not in page
    assert f"{rule_set.pk} created by {user.pk}" not in page


def test_a_warehouse_without_coordinates_takes_its_citys_centre(admin_client):
    from inventory.models import Warehouse

    form = {
        "code": "PAT1",
        "name": "Patras DC",
        "kind": "warehouse",
        "line1": "Akti Dymaion 1",
        "city": "Pátra",
        "postal_code": "263 33",
        "country": "GR",
        "latitude": "",
        "longitude": "",
        "time_zone": "Europe/Athens",
        "is_active": "on",
    }
    response = admin_client.post("/admin/inventory/warehouse/add/", form)
    assert response.status_code == 302, response.content.decode()[-2000:]
    patras = Warehouse.objects.get(code="PAT1")
    assert (round(float(patras.latitude), 1), round(float(patras.longitude), 1)) == (38.2, 21.7)
    unknown = admin_client.post(
        "/admin/inventory/warehouse/add/", form | {"code": "X1", "city": "Nowhereville"}
    )
    assert unknown.status_code == 200
    assert "give the latitude and longitude" in unknown.content.decode()
    assert not Warehouse.objects.filter(code="X1").exists()


def test_a_channels_return_policy_is_set_in_admin(admin_client, channel):
    from returns.models import ReturnPolicy

    url = "/admin/returns/returnpolicy/add/"
    page = admin_client.get(url).content.decode()
    assert "Approval without a person" in page and 'value="other"' in page  # the reasons, as boxes
    form = {
        "channel": channel.pk,
        "window_days": "14",
        "restocking_fee_percent": "120",
        "customer_label_fee": "4.90",
        "auto_approve": "on",
        "auto_approve_reasons": ["damaged", "wrong_item"],
        "auto_approve_max_value": "200",
        "auto_approve_max_recent_returns": "2",
        "return_to": "centre",
        "credit_after_inspection": "on",
    }
    refused = admin_client.post(url, form).content.decode()
    assert "Between 0 and 100 %." in refused
    assert "Choose the returns centre the rule sends returns to." in refused
    form |= {"restocking_fee_percent": "10", "return_to": "nearest"}
    assert admin_client.post(url, form).status_code == 302
    policy = ReturnPolicy.objects.get(channel=channel)
    assert (policy.window_days, policy.auto_approve_reasons) == (14, ["damaged", "wrong_item"])
    # returns are read in admin, never edited there
    assert admin_client.get("/admin/returns/return/add/").status_code == 403
