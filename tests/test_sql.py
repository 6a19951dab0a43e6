"""The hot-path SQL helpers give the same instances the ORM would."""

import pytest

from oms.models import IdempotencyRecord
from oms.sql import insert_rows, select_rows
from orders.models import Customer

pytestmark = pytest.mark.django_db


def test_select_rows_matches_the_orm_whatever_the_field_order():
    stored = insert_rows(
        [
            IdempotencyRecord(
                principal="apikey:1",
                key="k-1",
                method="POST",
                path="/api/v1/orders/",
                fingerprint="f" * 64,
                response_status=201,
                response_body={"id": 7, "lines": [{"sku": "A", "quantity": 2}], "total": "1.50"},
            )
        ]
    )[0]
    orm = IdempotencyRecord.objects.get(pk=stored.pk)
    (fast,) = select_rows(
        IdempotencyRecord,
        ("response_body", "response_status", "id", "fingerprint"),
        "principal = %s AND key = %s",
        ["apikey:1", "k-1"],
    )
    assert fast.pk == orm.pk
    assert (
        fast.response_body
        == orm.response_body
        == {
            "id": 7,
            "lines": [{"sku": "A", "quantity": 2}],
            "total": "1.50",
        }
    )
    assert fast.response_status == 201
    assert fast.fingerprint == "f" * 64
    assert fast.get_deferred_fields() == {"principal", "key", "method", "path", "created_at"}
    # deferred fields load on access, as with .only()
    assert fast.created_at == orm.created_at
    assert select_rows(IdempotencyRecord, ("id",), "principal = %s AND key = %s", ["apikey:1", "k-2"]) == []


def test_select_rows_instances_can_be_saved():
    customer = Customer.objects.create(email="a@example.com", first_name="Ann")
    (loaded,) = select_rows(
        Customer, ("id", "email", "first_name", "updated_at"), "email = %s", ["a@example.com"]
    )
    loaded.first_name = "Anna"
    loaded.save(update_fields=["first_name"])
    customer.refresh_from_db()
    assert customer.first_name == "Anna"


def test_select_rows_refuses_unknown_fields():
    with pytest.raises(ValueError, match="no column"):
        select_rows(Customer, ("id", "nickname"), "id = %s", [1])


def test_deferred_inserts_reach_the_database_before_anything_that_reads_them():
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from oms.models import DomainEvent
    from oms.sql import deferred_inserts

    def sent():
        return [q for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]

    with CaptureQueriesContext(connection) as captured, transaction.atomic(), deferred_inserts():
        insert_rows(
            [DomainEvent(name="a.b", aggregate_type="x", aggregate_id="1", payload={})], deferrable=True
        )
        insert_rows(
            [DomainEvent(name="a.c", aggregate_type="x", aggregate_id="1", payload={})], deferrable=True
        )
        assert sent() == []  # nothing sent yet
        # the read goes out with the two inserts in front of it, and reads its own result
        assert DomainEvent.objects.filter(aggregate_type="x").count() == 2
        assert len(sent()) == 1
        insert_rows(
            [DomainEvent(name="a.d", aggregate_type="x", aggregate_id="2", payload={"k": 1})], deferrable=True
        )
    # the block's end sent the last one
    assert list(
        DomainEvent.objects.filter(aggregate_type="x").order_by("id").values_list("name", flat=True)
    ) == [
        "a.b",
        "a.c",
        "a.d",
    ]


def test_deferred_inserts_are_dropped_with_an_error():
    from django.db import transaction

    from oms.models import DomainEvent
    from oms.sql import deferred_inserts

    with pytest.raises(RuntimeError), transaction.atomic(), deferred_inserts():
        insert_rows(
            [DomainEvent(name="lost", aggregate_type="x", aggregate_id="1", payload={})], deferrable=True
        )
        raise RuntimeError("the request failed")
    assert not DomainEvent.objects.filter(name="lost").exists()
    # and outside the block a deferrable insert is an ordinary one
    event = insert_rows(
        [DomainEvent(name="now", aggregate_type="x", aggregate_id="1", payload={})], deferrable=True
    )[0]
    assert event.pk is not None


def _values_for(field):
    from datetime import UTC

    from django.db import models
    from django.utils.translation import gettext_lazy
    from hypothesis import strategies as st

    nothing = st.none() if field.null else st.nothing()
    if isinstance(field, models.ForeignKey):
        return st.integers(1, 2**31 - 1) | st.just("17") | nothing
    if isinstance(field, models.BooleanField):
        return st.booleans() | st.sampled_from([0, 1]) | nothing
    if isinstance(field, models.DecimalField):
        return (
            st.decimals(allow_nan=False, allow_infinity=False, places=field.decimal_places)
            | st.integers(-(10**6), 10**6)
            | st.floats(-1e6, 1e6, allow_nan=False)
            | st.just("12.50")
            | nothing
        )
    if isinstance(field, models.DateTimeField):
        return st.datetimes(timezones=st.just(UTC)) | nothing
    if isinstance(field, models.IntegerField):
        return st.integers(-(2**15), 2**15 - 1) | st.just("42") | st.just(True) | nothing
    if isinstance(field, models.CharField | models.TextField):
        choices = [c for c, _ in field.choices] if field.choices else []
        return (
            st.text(max_size=20)
            | st.sampled_from(choices or ["x"])
            | st.integers()
            | st.just(gettext_lazy("Order"))
            | nothing
        )
    return st.none() | st.just({"a": [1, "b"]})


def _all_inserted_columns():
    from django.apps import apps

    from oms.sql import _columns

    ours = {"oms", "orders", "inventory", "routing", "shipments", "tracking", "returns"}
    return [
        (model, field)
        for model in apps.get_models()
        if model._meta.app_label in ours and not model._meta.proxy
        for field in _columns(model)
        if not getattr(field, "auto_now", False) and not getattr(field, "auto_now_add", False)
    ]


@pytest.mark.parametrize(
    "model,field", _all_inserted_columns(), ids=lambda x: getattr(x, "label", getattr(x, "name", x))
)
def test_insert_values_are_prepared_as_the_orm_prepares_them(model, field):
    from django.core.exceptions import ValidationError
    from django.db import connection
    from hypothesis import HealthCheck, given, settings

    from oms.sql import _preparer

    prepare = _preparer(field, connection)

    @settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
    @given(_values_for(field))
    def same(value):
        obj = model()
        obj.__dict__[field.attname] = value
        try:
            expected = field.get_db_prep_save(field.pre_save(obj, add=True), connection=connection)
        except (TypeError, ValueError, ValidationError) as refused:
            with pytest.raises(type(refused)):
                prepare(obj)
            return
        got = prepare(obj)
        # psycopg's JSON wrappers do not compare equal; what they wrap does.
        assert type(got) is type(expected), (value, got, expected)
        assert getattr(got, "obj", got) == getattr(expected, "obj", expected), (value, got, expected)

    same()


def test_auto_timestamps_are_set_on_the_object_and_prepared():
    from django.db import connection
    from django.utils import timezone

    from oms.sql import _preparer

    field = Customer._meta.get_field("updated_at")
    obj = Customer()
    before = timezone.now()
    value = _preparer(field, connection)(obj)
    assert before <= value <= timezone.now()
    assert obj.updated_at == value


def _our_models():
    from django.apps import apps

    ours = {"oms", "orders", "inventory", "routing", "shipments", "tracking", "returns"}
    return [m for m in apps.get_models() if m._meta.app_label in ours and not m._meta.proxy]


def _keywords_for(model):
    """Keyword arguments for ``model(...)``: any subset of its fields, relations given as an object
    (saved or not), as an id, or as None."""
    from django.db import models
    from hypothesis import strategies as st

    def relation(field):
        target = field.related_model
        nothing = st.none() if field.null else st.nothing()
        return (
            st.builds(target)
            | st.integers(1, 10**6).map(lambda pk: target(pk=pk))
            | nothing
            | st.just(models.DEFERRED)
        ).map(lambda value: (field.name, value)) | st.integers(1, 10**6).map(lambda pk: (field.attname, pk))

    def plain(field):
        return _values_for(field).map(lambda value: (field.attname, value))

    return st.lists(
        st.one_of(
            *[
                relation(f) if isinstance(f.remote_field, models.ForeignObjectRel) else plain(f)
                for f in model._meta.concrete_fields
            ]
        ),
        unique_by=lambda pair: pair[0],
    ).map(dict)


def _made(obj, keywords):
    # Callable defaults (timezone.now, random tokens) differ from call to call; their type must not.
    called = {
        f.attname
        for f in obj._meta.concrete_fields
        if callable(f.default) and f.attname not in keywords and f.name not in keywords
    }
    values = {k: type(v) if k in called else v for k, v in obj.__dict__.items() if k != "_state"}
    cached = {name: id(value) for name, value in obj._state.fields_cache.items()}
    return values, cached, obj._state.adding, obj._state.db


@pytest.mark.parametrize("model", _our_models(), ids=lambda m: m._meta.label)
def test_unsaved_makes_what_the_model_constructor_makes(model):
    from hypothesis import HealthCheck, given, settings

    from oms.sql import unsaved

    @settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
    @given(_keywords_for(model))
    def same(keywords):
        expected = model(**keywords)
        got = unsaved(model, **keywords)
        assert type(got) is model
        assert _made(got, keywords) == _made(expected, keywords), keywords
        # Mutable defaults (JSON fields' dict / list) are new objects for every instance.
        again = unsaved(model, **keywords)
        for name, value in got.__dict__.items():
            if isinstance(value, dict | list) and name not in keywords:
                assert again.__dict__[name] is not value, name

    same()


def test_unsaved_leaves_what_it_does_not_reproduce_to_the_model_constructor():
    from django.db.models.signals import post_init

    from oms.sql import unsaved
    from orders.models import Order

    with pytest.raises(TypeError, match="unexpected keyword arguments: 'colour'"):
        unsaved(Customer, email="a@example.com", colour="red")
    assert unsaved(Customer, pk=7).id == 7  # a property, set by Django's constructor
    both = {"channel": None, "channel_id": 3}
    assert _made(unsaved(Order, **both), both) == _made(Order(**both), both)

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Customer)
    try:
        customer = unsaved(Customer, email="a@example.com")
    finally:
        post_init.disconnect(receiver, sender=Customer)
    assert seen == [customer]
