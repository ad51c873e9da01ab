"""Top-level URL configuration: admin, REST API and the browse pages."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/states/", include("catalog.api.state_urls")),
    path("neuroglancer/", include("catalog.viewer_page")),
    path("api/ingest/", include("catalog.api.ingest_urls")),
    path("api/", include("catalog.api.urls")),
    path("", include("catalog.urls")),
]

if not settings.PRODUCTION:
    # Thumbnails written by ingest; in production the web server or S3 serves media.
    urlpatterns.insert(0, re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))

if settings.PORTAL_BENCH:
    urlpatterns.insert(0, path("bench/", include("bench.urls")))
