"""The floor: the cheapest JSON response the same server, settings and middleware can give."""

from django.http import HttpRequest, JsonResponse


def floor(request: HttpRequest) -> JsonResponse:
    """A fixed small JSON body, no database: what no catalog endpoint can beat."""
    return JsonResponse({"status": "ok", "service": "portal", "items": [1, 2, 3]})
