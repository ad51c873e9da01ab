"""Security headers on every response: a Content-Security-Policy, nosniff, a referrer policy.

The pages run only the portal's own scripts (``static/js``, htmx): no inline script, nothing
from another origin, no plugins, no framing. Inline ``style`` attributes stay allowed (swatch
colours and placeholders are data-driven; a style cannot run code), and so do ``blob:`` workers,
which only a script already running can create (ReDoc's search at ``/api/redoc/`` is one).

The self-hosted Neuroglancer (``/neuroglancer/`` and its files under
``/static/neuroglancer/``) needs more, and gets exactly that, named here:

- ``'unsafe-eval'``: it compiles annotation (de)serialisers and decoders with ``new Function``,
  in the page and in its chunk worker;
- ``'wasm-unsafe-eval'``: its decoders (blosc, zstd, PNG, JPEG XL, Draco, compresso) are WebAssembly;
- ``worker-src 'self' blob:``: the chunk and async-computation workers;
- ``connect-src https:`` plus the configured S3 endpoint: it reads volumes from any bucket over
  https (the catalog's own states name public S3 buckets) and from ``AWS_ENDPOINT_URL_S3``;
- ``img-src data: blob:``: the icons it draws.

A worker's script carries its own policy, so the files under ``/static/neuroglancer/`` are
served with the viewer's policy too.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

VIEWER_PREFIXES = ("/neuroglancer/", "/static/neuroglancer/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _policy(directives: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def page_policy() -> str:
    """The pages, the API and the admin: own scripts only."""
    return _policy(
        {
            "default-src": ["'self'"],
            "script-src": ["'self'"],
            "worker-src": ["'self'", "blob:"],
            "style-src": ["'self'", "'unsafe-inline'"],
            "img-src": ["'self'", "data:", "https:"],
            "connect-src": ["'self'"],
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        }
    )


def viewer_policy() -> str:
    """Neuroglancer: its own scripts with eval and WebAssembly, workers, data from S3 over https."""
    connect = ["'self'", "https:", "data:", "blob:"]
    endpoint = _origin(settings.AWS_ENDPOINT_URL_S3)
    if endpoint and endpoint not in connect:
        connect.append(endpoint)
    return _policy(
        {
            "default-src": ["'self'"],
            "script-src": ["'self'", "'unsafe-eval'", "'wasm-unsafe-eval'"],
            "worker-src": ["'self'", "blob:"],
            "style-src": ["'self'", "'unsafe-inline'"],
            "img-src": ["'self'", "data:", "blob:"],
            "connect-src": connect,
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        }
    )


class SecurityHeadersMiddleware:
    """Adds the policy for the path (viewer or page), ``X-Content-Type-Options: nosniff`` and
    ``Referrer-Policy`` to every response, errors and static files included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.page_policy = page_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        viewer = request.path.startswith(VIEWER_PREFIXES)
        # The viewer's policy follows the S3 endpoint setting, which tests change at run time.
        response.headers.setdefault("Content-Security-Policy", viewer_policy() if viewer else self.page_policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
