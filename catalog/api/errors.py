"""One JSON shape for every API error, so clients parse failures the same way.

``{"status": 400, "error": "bad_request", "detail": "...", "errors": [{"field": .., "message": ..}]}``

The one place where errors become responses: ``catalog.errors.CatalogError`` (raised by services,
the state recipe and the request parsers) through ``catalog_error_response``, DRF's own
exceptions through ``exception_handler``, and anything a plain view under ``/api/`` raises
through ``ApiErrorMiddleware``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from catalog.errors import CatalogError

ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}
NON_FIELD = "non_field_errors"


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn DRF's nested error detail into a flat list of ``{field, message}``."""
    if isinstance(detail, dict):
        items: list[dict[str, str]] = []
        for key, value in detail.items():
            name = "" if key == NON_FIELD else str(key)
            items.extend(flatten_errors(value, f"{prefix}.{name}" if prefix and name else prefix or name))
        return items
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix, "message": str(item)} for item in detail]
        items = []
        for index, item in enumerate(detail):
            items.extend(flatten_errors(item, f"{prefix}[{index}]" if prefix else str(index)))
        return items
    return [{"field": prefix, "message": str(detail)}]


def error_body(status_code: int, detail: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "status": status_code,
        "error": ERROR_CODES.get(status_code, "error"),
        "detail": detail,
        "errors": errors or [],
    }


def catalog_error_response(error: CatalogError) -> JsonResponse:
    """The envelope of a ``CatalogError``, with its own status."""
    return JsonResponse(error_body(error.status, error.detail, error.errors), status=error.status)


class ApiErrorMiddleware:
    """Plain (non-DRF) views under /api/ may raise ``CatalogError``: answer it as the envelope."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, CatalogError) and request.path.startswith("/api/"):
            return catalog_error_response(exception)
        return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (headers such as Retry-After and WWW-Authenticate included), reshaped;
    a ``CatalogError`` keeps its status, detail and field errors."""
    if isinstance(exc, CatalogError):
        return Response(error_body(exc.status, exc.detail, exc.errors), status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        fields = sorted({error["field"] for error in errors if error["field"]})
        detail = f"Invalid {', '.join(fields)}." if fields else "; ".join(error["message"] for error in errors)
    elif isinstance(exc, Http404):
        errors, detail = [], "Not found."
    elif isinstance(exc, PermissionDenied):
        errors, detail = [], "You do not have permission to perform this action."
    else:
        detail = str(getattr(exc, "detail", exc))
        errors = []
    response.data = error_body(response.status_code, detail, errors)
    return response


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """JSON 404 for any unknown path under /api/; a path missing only its slash is redirected
    (308, so the method and body survive), as APPEND_SLASH would do without this catch-all."""
    if not request.path.endswith("/"):
        match = resolve(request.path + "/")
        if match.url_name != "api-not-found":
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""), status=308)
    return JsonResponse(error_body(status.HTTP_404_NOT_FOUND, f"No API endpoint at {request.path}."), status=404)
