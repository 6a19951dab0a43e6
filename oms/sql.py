"""Inserts and simple reads for the hot paths (order intake, events) without the ORM's per-call SQL
compilation.

Profiling order intake showed that compiling each INSERT cost more CPU than PostgreSQL spent
executing it, and each simple SELECT about a third of a millisecond. ``insert_rows`` prepares
values exactly as the ORM does (``pre_save`` for auto timestamps, ``get_db_prep_save`` for
adaptation) but builds the statement text once per model, column list and row count. It skips
``Model.save()``, so it is only for plain inserts of rows that have no save-time logic beyond their
fields. ``select_rows`` does the same for reads by a fixed WHERE clause.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from django.db import connections, models, router
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

M = TypeVar("M", bound=models.Model)


@cache
def _columns(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField))


@cache
def _insert_sql(
    model: type[models.Model], vendor: str, row_count: int, returning: bool, skip_conflicts: bool
) -> str:
    fields = _columns(model)
    connection_ops = connections[router.db_for_write(model)].ops
    table = connection_ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection_ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([row] * row_count)
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f" RETURNING {connection_ops.quote_name(model._meta.pk.column)}"
    return sql


# Field classes whose database value, for a value of the listed types, is the value itself: their
# get_db_prep_save (to_python, get_prep_value, the backend's adapt_*_value) returns it unchanged on
# PostgreSQL and SQLite. Exact classes only, since a subclass may prepare values its own way;
# tests/test_sql.py checks every case against the ORM's own preparation.
_UNCHANGED: dict[type[models.Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.EmailField: (str,),
    models.SlugField: (str,),
    models.BooleanField: (bool,),
}
_INTEGER_FIELDS = frozenset(
    [
        models.IntegerField,
        models.SmallIntegerField,
        models.BigIntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.PositiveBigIntegerField,
    ]
)
_AUTO_FIELDS = frozenset([models.AutoField, models.BigAutoField, models.SmallAutoField])


@cache
def _preparers(model: type[models.Model], alias: str) -> tuple[Callable[[models.Model], Any], ...]:
    """Per inserted column, a function of the object giving what
    ``field.get_db_prep_save(field.pre_save(obj, add=True))`` gives, without that chain of four to six
    calls where the outcome is known from the value's type.

    Profiling order intake showed the ORM's preparation (1.5 - 2 microseconds a column, 116 columns an
    order) costing about as much CPU as sending the statements.
    """
    connection = connections[alias]
    return tuple(_preparer(field, connection) for field in _columns(model))


def _preparer(field: models.Field, connection) -> Callable[[models.Model], Any]:
    exact = type(field)
    attname = field.attname
    if exact.pre_save is models.Field.pre_save or (
        isinstance(field, models.DateField) and not field.auto_now and not field.auto_now_add
    ):

        def read(obj):
            return getattr(obj, attname)

    else:

        def read(obj):
            return field.pre_save(obj, add=True)

    def orm(value: Any) -> Any:
        return field.get_db_prep_save(value, connection=connection)

    kept = _UNCHANGED.get(exact)
    if isinstance(field, models.ForeignKey) and type(field.target_field) in _AUTO_FIELDS:
        kept = (int,)
    if kept is not None:
        if kept == (str,):

            def prepare_text(obj):
                value = read(obj)
                # str subclasses (TextChoices members) pass unchanged through CharField.to_python too.
                return value if value is None or isinstance(value, str) else orm(value)

            return prepare_text

        def prepare_kept(obj):
            value = read(obj)
            return value if value is None or type(value) in kept else orm(value)

        return prepare_kept
    if exact in _INTEGER_FIELDS:
        adapt_integer, internal_type = connection.ops.adapt_integerfield_value, field.get_internal_type()

        def prepare_integer(obj):
            value = read(obj)
            if value is None:
                return None
            return adapt_integer(value, internal_type) if type(value) is int else orm(value)

        return prepare_integer
    if exact is models.DecimalField:
        adapt_decimal, digits, places = (
            connection.ops.adapt_decimalfield_value,
            field.max_digits,
            field.decimal_places,
        )

        def prepare_decimal(obj):
            value = read(obj)
            if value is None:
                return None
            if type(value) is Decimal and value.is_finite():
                return adapt_decimal(value, digits, places)
            return orm(value)

        return prepare_decimal
    if exact is models.DateTimeField:
        adapt_datetime = connection.ops.adapt_datetimefield_value

        def prepare_datetime(obj):
            value = read(obj)
            if value is None:
                return None
            # Naive values take the ORM's path, which warns and makes them aware.
            if type(value) is datetime and value.utcoffset() is not None:
                return adapt_datetime(value)
            return orm(value)

        return prepare_datetime
    return lambda obj: orm(read(obj))


@cache
def _construction(model: type[models.Model]) -> tuple[tuple, frozenset[str]]:
    """Per concrete field: its name, attname, whether it takes a related object, whether it is
    generated, and its default; plus every name a keyword may use."""
    plan = tuple(
        (
            field.name,
            field.attname,
            isinstance(field.remote_field, models.ForeignObjectRel),
            field.generated,
            field.get_default,
        )
        for field in model._meta.concrete_fields
    )
    return plan, frozenset(n for name, attname, *_ in plan for n in (name, attname))


def unsaved(model: type[M], /, **values: Any) -> M:
    """What ``model(**values)`` makes, without most of its cost.

    Django's keyword constructor looks every field up among the keywords, raising and catching a
    KeyError for each one left to its default, and sets each value through ``setattr``; profiling
    order intake showed building its dozen instances costing about 7 % of a request's CPU. Here the
    values and the fields' own defaults go straight into the new instance's ``__dict__`` (which is
    where the constructor's ``setattr`` puts them on a new instance), and related objects are set
    through the field's descriptor, as Django does. Django's constructor does the work itself when
    there is anything this does not reproduce: a model with its own ``__init__``, receivers of
    ``pre_init`` / ``post_init``, a generated field, or a keyword that is not a field's name or
    attname (a property, a mistake), or names a relation twice. tests/test_sql.py compares the
    result with ``model(**values)`` for every model.
    """
    plan, known = _construction(model)
    if (
        model.__init__ is not models.Model.__init__
        or pre_init.receivers
        or post_init.receivers
        or not known.issuperset(values)
    ):
        return model(**values)
    fields = {}
    related = []
    for name, attname, takes_object, generated, default in plan:
        if generated:
            return model(**values)
        if takes_object and name in values:
            if attname in values:
                return model(**values)
            if values[name] is not models.DEFERRED:
                related.append((name, values[name]))
        elif attname in values:
            if values[attname] is not models.DEFERRED:
                fields[attname] = values[attname]
        else:
            fields[attname] = default()
    obj = model.__new__(model)
    obj._state = ModelState()
    obj.__dict__.update(fields)
    for name, value in related:
        setattr(obj, name, value)
    return obj


def insert_rows(objs: list[M], *, skip_conflicts: bool = False, deferrable: bool = False) -> list[M]:
    """INSERT the unsaved ``objs`` (all of one model) in one statement and set their primary keys.

    With ``skip_conflicts`` (one row only) a row that would break a unique constraint is not written
    and the result is empty, instead of an error that aborts the transaction. With ``deferrable``,
    inside ``deferred_inserts()`` the statement waits to be sent with the next one (the objects then
    get no primary key: only for rows nobody reads back, such as history and outbox rows).
    """
    if not objs:
        return objs
    if skip_conflicts and len(objs) != 1:
        raise ValueError("skip_conflicts works on one row at a time.")
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    preparers = _preparers(model, connection.alias)
    params = [prepare(obj) for obj in objs for prepare in preparers]
    pending = getattr(connection, "_oms_deferred", None)
    if deferrable and pending is not None and not skip_conflicts:
        pending.append((_insert_sql(model, connection.vendor, len(objs), False, False), params))
        for obj in objs:
            obj._state.adding = False
            obj._state.db = connection.alias
        return objs
    returning = connection.features.can_return_rows_from_bulk_insert
    with hot_cursor(connection) as cursor:
        cursor.execute(_insert_sql(model, connection.vendor, len(objs), returning, skip_conflicts), params)
        if returning:
            rows = cursor.fetchall()
            if skip_conflicts and not rows:
                return []
            for obj, (pk,) in zip(objs, rows, strict=True):
                obj.pk = pk
        elif skip_conflicts:
            raise NotImplementedError("skip_conflicts needs a database that returns inserted ids.")
        elif len(objs) == 1:
            objs[0].pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
        else:
            raise NotImplementedError("Multi-row inserts need a database that returns inserted ids.")
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


@cache
def _insert_with_parent_sql(
    parent: type[models.Model], child: type[models.Model], link: str, alias: str
) -> str:
    ops = connections[alias].ops
    parent_columns = _columns(parent)
    child_columns = _columns(child)
    values = ", ".join(
        "(SELECT id FROM parent_row)" if field.name == link else "%s" for field in child_columns
    )
    return (
        f"WITH parent_row AS (INSERT INTO {ops.quote_name(parent._meta.db_table)} "
        f"({', '.join(ops.quote_name(f.column) for f in parent_columns)}) "
        f"VALUES ({', '.join(['%s'] * len(parent_columns))}) "
        f"RETURNING {ops.quote_name(parent._meta.pk.column)} AS id) "
        f"INSERT INTO {ops.quote_name(child._meta.db_table)} "
        f"({', '.join(ops.quote_name(f.column) for f in child_columns)}) VALUES ({values}) "
        f"ON CONFLICT DO NOTHING RETURNING {ops.quote_name(child._meta.pk.column)}, "
        f"{ops.quote_name(child._meta.get_field(link).column)}"
    )


def insert_with_parent(parent: models.Model, child: models.Model, link: str) -> bool:
    """INSERT ``parent`` and ``child`` (whose foreign key ``link`` points at the parent) in one round
    trip on PostgreSQL, setting both primary keys; False, and neither key, when the child would break a
    unique constraint (the parent row is then written: the caller rolls the transaction back).
    """
    connection = connections[router.db_for_write(type(child))]
    if connection.vendor != "postgresql":
        insert_rows([parent])
        setattr(child, link, parent)
        return bool(insert_rows([child], skip_conflicts=True))
    link_attname = child._meta.get_field(link).attname
    params = [prepare(parent) for prepare in _preparers(type(parent), connection.alias)]
    params += [
        prepare(child)
        for field, prepare in zip(
            _columns(type(child)), _preparers(type(child), connection.alias), strict=True
        )
        if field.attname != link_attname
    ]
    with hot_cursor(connection) as cursor:
        cursor.execute(_insert_with_parent_sql(type(parent), type(child), link, connection.alias), params)
        row = cursor.fetchone()
    if row is None:
        return False
    child.pk, parent.pk = row
    setattr(child, link, parent)
    for obj in (parent, child):
        obj._state.adding = False
        obj._state.db = connection.alias
    return True


@cache
def _selected_fields(model: type[models.Model], field_names: tuple[str, ...]) -> tuple[models.Field, ...]:
    # In the model's own order, which is the order Model.from_db expects the values in.
    unknown = set(field_names) - {f.name for f in model._meta.concrete_fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no column for {sorted(unknown)}.")
    return tuple(f for f in model._meta.concrete_fields if f.name in field_names)


@cache
def _select_sql(model: type[models.Model], vendor: str, field_names: tuple[str, ...], where: str) -> str:
    connection_ops = connections[router.db_for_read(model)].ops
    columns = ", ".join(connection_ops.quote_name(f.column) for f in _selected_fields(model, field_names))
    return f"SELECT {columns} FROM {connection_ops.quote_name(model._meta.db_table)} WHERE {where}"


def columns_sql(model: type[models.Model], field_names: tuple[str, ...]) -> str:
    """The quoted column list, in the order ``objects_from_rows`` reads rows of ``field_names``."""
    connection_ops = connections[router.db_for_read(model)].ops
    return ", ".join(connection_ops.quote_name(f.column) for f in _selected_fields(model, field_names))


def select_sql(model: type[models.Model], field_names: tuple[str, ...], where: str) -> str:
    """The SELECT that ``select_rows`` sends, for callers that send it together with another statement."""
    connection = connections[router.db_for_read(model)]
    return _select_sql(model, connection.vendor, field_names, where)


def select_rows(model: type[M], field_names: tuple[str, ...], where: str, params: list) -> list[M]:
    """Instances of ``model`` with only ``field_names`` loaded, for rows matching ``where``.

    ``where`` is SQL over the model's column names with ``%s`` placeholders (the same text for every
    call, so the statement is built once); the other fields are deferred as with ``.only()``.
    Values pass through the fields' database converters as the ORM's would (e.g. JSON).
    """
    connection = connections[router.db_for_read(model)]
    with hot_cursor(connection) as cursor:
        cursor.execute(_select_sql(model, connection.vendor, field_names, where), params)
        rows = cursor.fetchall()
    return objects_from_rows(model, field_names, rows)


def _row_readers(connection, model: type[models.Model], field_names: tuple[str, ...]) -> tuple[list, list]:
    """The attribute names and value converters for rows of ``field_names``, worked out once per
    connection (converters are bound to it) instead of on every read."""
    readers = getattr(connection, "_oms_row_readers", None)
    if readers is None:
        readers = connection._oms_row_readers = {}
    found = readers.get((model, field_names))
    if found is not None:
        return found
    fields = _selected_fields(model, field_names)
    converters = []
    for index, field in enumerate(fields):
        # The backend's converters (e.g. SQLite's decimals and booleans) and the field's, as the ORM does.
        column = field.get_col(model._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            converters.append((index, convert, column))
    found = readers[(model, field_names)] = ([field.attname for field in fields], converters)
    return found


def objects_from_rows(model: type[M], field_names: tuple[str, ...], rows: list[tuple]) -> list[M]:
    """Instances from rows of ``select_sql``'s columns."""
    if not rows:
        return []
    connection = connections[router.db_for_read(model)]
    attnames, converters = _row_readers(connection, model, field_names)
    objs = []
    for row in rows:
        if converters:
            row = list(row)
            for index, convert, column in converters:
                row[index] = convert(row[index], column, connection)
        objs.append(model.from_db(connection.alias, attnames, row))
    return objs


@contextmanager
def hot_cursor(connection) -> Iterator:
    """A cursor for one statement of the hot paths: inside ``shared_cursor()`` the block's one cursor,
    otherwise a new one closed at the end.

    Each new cursor costs a few microseconds and starts with an empty cache of value adapters, which
    profiling order intake showed adding up over its statements.
    """
    shared = getattr(connection, "_oms_cursor", None)
    if shared is not None:
        yield shared
        return
    with connection.cursor() as cursor:
        yield cursor


@contextmanager
def shared_cursor(using: str = "default") -> Iterator[None]:
    """Let every ``hot_cursor()`` inside the block use one cursor (callers read their results before
    the next statement, so they never interleave)."""
    connection = connections[using]
    if getattr(connection, "_oms_cursor", None) is not None:
        yield
        return
    with connection.cursor() as cursor:
        connection._oms_cursor = cursor
        try:
            yield
        finally:
            connection._oms_cursor = None


@contextmanager
def deferred_inserts(using: str = "default") -> Iterator[None]:
    """Send deferrable inserts together with the statement that follows them, or all at once when the
    block ends, instead of one round trip each.

    Profiling order intake showed each round trip costing the application about a fifth of a
    millisecond of CPU; the history row, the domain event and the idempotency record at the end of an
    order need none of their results. Any other statement first sends what waits, so statements
    still reach the database in the order they were issued; an exception discards what waits (the
    transaction rolls back anyway). Use inside a transaction that ends after the block.
    """
    connection = connections[using]
    if getattr(connection, "_oms_deferred", None) is not None:
        yield
        return
    connection._oms_deferred = []

    def send_waiting_first(execute, sql, params, many, context):
        waiting = connection._oms_deferred
        if not waiting:
            return execute(sql, params, many, context)
        connection._oms_deferred = []
        if many or not _can_chain(connection, sql, params):
            _send(connection, waiting)
            return execute(sql, params, many, context)
        result = execute(*_chained(waiting, sql, params), many, context)
        # The cursor stands on the first statement's result; the caller reads the last one's.
        for _ in waiting:
            context["cursor"].nextset()
        return result

    try:
        with connection.execute_wrapper(send_waiting_first):
            yield
            waiting, connection._oms_deferred = connection._oms_deferred, []
            _send(connection, waiting)
    finally:
        connection._oms_deferred = None


def _can_chain(connection, sql: str, params) -> bool:
    # PostgreSQL's simple protocol (Django's client-side binding) runs several statements sent as one
    # text in order, each with its own snapshot. A statement sent without parameters may hold a literal
    # "%", which would read as a placeholder once parameters join it.
    if params is None and "%" in sql:
        return False
    return connection.vendor == "postgresql" and not isinstance(params, dict)


def _chained(waiting: list[tuple[str, list]], sql: str, params) -> tuple[str, list]:
    return "; ".join([*(w for w, _ in waiting), sql]), [p for _, ps in waiting for p in ps] + list(
        params or []
    )


def _send(connection, waiting: list[tuple[str, list]]) -> None:
    if not waiting:
        return
    if _can_chain(connection, "", []):
        with hot_cursor(connection) as cursor:
            cursor.execute(*_chained(waiting[:-1], *waiting[-1]))
        return
    for sql, params in waiting:
        with hot_cursor(connection) as cursor:
            cursor.execute(sql, params)


def update_rows(objs: list[M], field_names: tuple[str, ...]) -> None:
    """UPDATE ``field_names`` of many saved ``objs`` (all of one model) in one statement, each row's
    new values joined by primary key from a VALUES list.

    ``bulk_update`` builds a CASE expression per field with a branch per row; for the few hundred
    rows a batch of orders changes, building it cost more than the database spent running it.
    Values are prepared as ``save()`` prepares them, and cast to the columns' types (a VALUES list
    has no types of its own). PostgreSQL and SQLite 3.33+ both take UPDATE ... FROM.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = [model._meta.pk, *(model._meta.get_field(name) for name in field_names)]
    row = "(" + ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in fields) + ")"
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    sets = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields[1:])
    pk = quote(fields[0].column)
    sql = (
        f"WITH v ({names}) AS (VALUES {', '.join([row] * len(objs))}) "
        f"UPDATE {table} SET {sets} FROM v WHERE {table}.{pk} = v.{pk}"
    )
    params = [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs for f in fields]
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)
