from decimal import Decimal

import factory

from inventory.models import Warehouse
from orders.models import Product
from tests.clock import at, iso


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    weight_grams = 250


def order_payload(external_id: str = "WEB-1001", **overrides) -> dict:
    """A valid order body as a channel sends it: three lines, a Greek address."""
    body = {
        "external_id": external_id,
        "customer": {
            "email": "Maria.P@Example.gr ",
            "phone": "+30 691 234 5678",
            "first_name": "Maria",
            "last_name": "Papadopoulou",
        },
        "shipping_address": {
            "name": "Maria Papadopoulou",
            "line1": "Odos Patision 12",
            "city": "Athens",
            "postal_code": "104 34",
            "country": "gr",
            "latitude": 37.99,
            "longitude": 23.73,
        },
        "lines": [
            {"sku": " tshirt-blk-m", "quantity": 2, "unit_price": "19.90"},
            {"sku": "HOODIE-GRY-L", "quantity": 1, "unit_price": "49.00", "discount": "4.00"},
            {"sku": "cap-navy", "quantity": 3, "unit_price": "15.00"},
        ],
        "currency": "EUR",
        "service_level": "express",
        "payment_status": "paid",
        # Six days ahead, 09:00 - 13:00 in Athens; placed five days before the tests' clock starts.
        "requested_delivery_window": {
            "start": iso(at(days=5, hours=22), offset_hours=2),
            "end": iso(at(days=6, hours=2), offset_hours=2),
        },
        "placed_at": iso(at(days=-5, minutes=-45), offset_hours=2),
        "order_discount": "5.00",
        "shipping_total": "4.90",
        "tax_total": "0",
    }
    body.update(overrides)
    return body


def make_warehouse(
    code: str, lat: str = "37.98", lon: str = "23.72", *, country: str = "GR", name: str = "", **extra
) -> Warehouse:
    """A warehouse at the given coordinates (Athens by default)."""
    return Warehouse.objects.create(
        code=code,
        name=name or code,
        line1="Street 1",
        city="x",
        country=country,
        latitude=Decimal(lat),
        longitude=Decimal(lon),
        **extra,
    )


def waiting_order(channel, external_id: str, sku: str, units: int):
    """A one-line order of ``units`` of ``sku`` that has asked the stock for its units (backordered
    where there are none)."""
    from decimal import Decimal

    from inventory import services as stock
    from orders import services as orders

    order = orders.order_create(
        channel=channel,
        actor=orders.Actor.system("t"),
        data=orders.OrderInput(
            external_id=external_id,
            customer=orders.CustomerInput(email=f"{external_id.lower()}@example.com"),
            shipping_address={
                "name": "B",
                "line1": "Odos 1",
                "city": "Athens",
                "postal_code": "10434",
                "country": "GR",
            },
            lines=[orders.LineInput(sku=sku, quantity=units, unit_price=Decimal("5.00"))],
            currency="EUR",
        ),
    )
    stock.stock_allocate(order_id=order.pk, actor="t")
    return order
