"""Content negotiation that remembers its answer per Accept header."""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.settings import api_settings

# Distinct Accept headers remembered per process. Clients send a handful of them; past this many
# (someone varying the header on purpose) the rest are negotiated every time instead of kept.
MEMO_LIMIT = 256


class RememberingContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, worked out once per (Accept header, ?format=, renderer classes).

    Its answer depends on nothing else, and working it out (parsing the header into media types and
    ranking them) cost about 2 % of the CPU of an order intake request in a profile. A header no
    renderer can serve is not remembered: it gets DRF's 406 each time.
    """

    _memo: dict[tuple, tuple[int, str]] = {}

    def select_renderer(self, request, renderers, format_suffix=None):
        format_name = format_suffix or request.query_params.get(api_settings.URL_FORMAT_OVERRIDE)
        key = (
            request.META.get("HTTP_ACCEPT", "*/*"),
            format_name,
            tuple(type(renderer) for renderer in renderers),
        )
        found = self._memo.get(key)
        if found is None:
            renderer, media_type = super().select_renderer(request, renderers, format_suffix)
            found = (renderers.index(renderer), media_type)
            if len(self._memo) < MEMO_LIMIT:
                self._memo[key] = found
        index, media_type = found
        return renderers[index], media_type
