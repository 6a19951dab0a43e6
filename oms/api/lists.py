"""List endpoints' parameters, held to what they document: cursor pages whose page size and cursor are
checked (DRF silently falls back on a bad page size and answers 404 for a bad cursor), and times read
in UTC. (Empty parameters are refused for every endpoint by ``oms.middleware``.)"""

from datetime import UTC

import django_filters
from rest_framework.exceptions import NotFound as DrfNotFound
from rest_framework.pagination import CursorPagination

from oms.errors import ValidationFailed


class CheckedCursorPagination(CursorPagination):
    page_size_query_param = "page_size"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationFailed(
                "Bad page size.",
                details={self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]},
            )
        return int(raw)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except DrfNotFound as exc:
            raise ValidationFailed(
                "Bad cursor.",
                details={self.cursor_query_param: ["Not a cursor from this list: follow `next` as given."]},
            ) from exc

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
            if parameter["name"] == self.cursor_query_param:
                parameter["schema"] = {"type": "string", "minLength": 1}
        return parameters


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time in any offset Python reads, as the same instant in UTC (PostgreSQL cannot hold
    offsets beyond 15:59)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        return parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo is not None else parsed


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
