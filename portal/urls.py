"""Top-level URL configuration: admin, REST API and the browse pages."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/states/", include("catalog.api.state_urls")),
    path("neuroglancer/", include("catalog.viewer_page")),
    path("api/ingest/", include("catalog.api.ingest_urls")),
    path("api/", include("catalog.api.urls")),
    path("", include("catalog.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

if settings.PORTAL_BENCH:
    urlpatterns.insert(0, path("bench/", include("bench.urls")))
