"""Requests refused before any view sees them."""

from django.shortcuts import render

from oms.api.exceptions import rendered_error

NUL = "\x00"


class RefuseNulCharacters:
    """A NUL character is never part of an address, a code or a search: PostgreSQL cannot even store it
    in text. Refused here, once, for every page and endpoint, naming where it was found."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = []
        if NUL in request.path:
            where.append("path")
        if "%00" in request.META.get("QUERY_STRING", "") or NUL in request.META.get("QUERY_STRING", ""):
            where += sorted({key for key, values in request.GET.lists() if any(NUL in v for v in values)})
            where += sorted({key for key in request.GET if NUL in key} - set(where))
        if not where:
            return self.get_response(request)
        message = "A NUL character (%00) is not allowed in the address."
        if request.path.startswith("/api/"):
            details = {name.replace(NUL, "\\u0000"): ["Contains a NUL character (%00)."] for name in where}
            return rendered_error(400, "invalid_characters", message, details)
        return render(request, "400.html", {"message": message}, status=400)
