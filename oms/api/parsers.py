"""The API's JSON parser: DRF's, with a bound on nesting.

Python's decoder recurses once per level: a body of a hundred thousand ``[`` raised RecursionError (a
500). No body of ours needs more than a few levels, so anything deeper than ``MAX_DEPTH`` is refused
with 400, and the limit is stated in the API's description.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32
NESTING_MESSAGE = f"The body is nested too deeply: at most {MAX_DEPTH} levels of arrays and objects."


def json_depth_exceeds(data: object, limit: int = MAX_DEPTH) -> bool:
    """Whether ``data`` (parsed JSON) nests arrays / objects more than ``limit`` levels deep."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(NESTING_MESSAGE) from exc
        if isinstance(data, dict | list) and json_depth_exceeds(data):
            raise ParseError(NESTING_MESSAGE)
        return data
