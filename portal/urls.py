"""Top-level URL configuration: admin, REST API, the browse pages and the site icon."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve

from catalog.neuroglancer.urls import state_urlpatterns, viewer_urlpatterns
from catalog.views import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/states/", include(state_urlpatterns)),
    path("neuroglancer/", include(viewer_urlpatterns)),
    path("api/ingest/", include("catalog.api.ingest_urls")),
    path("api/conversions/", include("catalog.api.conversion_urls")),
    path("api/cutouts/", include("catalog.api.cutout_urls")),
    path("api/", include("catalog.api.urls")),
    path("", include("catalog.urls")),
]


def media(request: HttpRequest, path: str) -> HttpResponse:
    """Thumbnails written by ingest, read from MEDIA_ROOT as it is now (tests move it)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


# Errors under /api/ answer the API's JSON envelope; the pages keep Django's templates.
handler400 = "catalog.api.errors.bad_request"
handler403 = "catalog.api.errors.permission_denied"
handler404 = "catalog.api.errors.page_not_found"
handler500 = "catalog.api.errors.server_error"

if not settings.PRODUCTION:
    # In production the web server or the S3 media bucket serves media.
    urlpatterns.insert(0, re_path(r"^media/(?P<path>.*)$", media))

if settings.PORTAL_BENCH:
    urlpatterns.insert(0, path("bench/", include("bench.urls")))
