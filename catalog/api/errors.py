"""One JSON shape for every API error, so clients parse failures the same way.

``{"status": 400, "error": "bad_request", "detail": "...", "errors": [{"field": .., "message": ..}]}``

The one place where errors become responses: ``catalog.errors.CatalogError`` (raised by services,
the state recipe and the request parsers) through ``catalog_error_response``, DRF's own
exceptions through ``exception_handler``, and anything a plain view under ``/api/`` raises
through ``ApiErrorMiddleware``. Django's own error views (``handler400`` ... ``handler500``:
a crash, a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, a path no pattern matches) answer the
envelope under ``/api/`` and the HTML pages elsewhere, and the middleware turns any other
non-JSON error under ``/api/`` (Django's bare 405, a CSRF refusal) into the envelope too. No
internal message (a database's, an exception's) reaches the client.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import resolve
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
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


GENERIC_DETAILS = {
    400: "The request is malformed.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "The request body is too large.",
    500: "Server error; it has been logged.",
}
# Headers of an error response that still mean something in the envelope's place.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Access-Control-Allow-Origin", "Cache-Control")


def under_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def api_error(status_code: int, detail: str | None = None) -> JsonResponse:
    """The envelope with no field errors; ``detail`` defaults to a generic sentence for the status."""
    text = detail or GENERIC_DETAILS.get(status_code) or "The request failed."
    return JsonResponse(error_body(status_code, text), status=status_code)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a malformed request, or one whose body is over the upload limit (413)."""
    if not under_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return api_error(413, f"The body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    return api_error(400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403."""
    return api_error(403) if under_api(request) else defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: the envelope under /api/, the site's page elsewhere."""
    return api_error(404) if under_api(request) else defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the envelope under /api/ (the traceback goes to the log, never to the client)."""
    return api_error(500) if under_api(request) else defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: under /api/ the envelope, elsewhere Django's page."""
    if under_api(request):
        return api_error(403, "CSRF check failed: send the CSRF token, or authenticate with a token.")
    return django_csrf_failure(request, reason)


class ApiErrorMiddleware:
    """Plain (non-DRF) views under /api/ may raise ``CatalogError``: answer it as the envelope.
    Any other error response under /api/ that is not JSON is replaced by the envelope."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not under_api(request):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replaced = api_error(response.status_code)
        for header in KEPT_HEADERS:
            if header in response:
                replaced[header] = response[header]
        return replaced

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, CatalogError) and under_api(request):
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
