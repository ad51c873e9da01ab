"""URLs of the REST API, mounted at /api/: the catalog resources and their OpenAPI documentation.

Swagger UI is served in two requests (the page, then its start-up script) so that it runs under
the Content-Security-Policy, which allows no inline script. A path without its trailing slash is
redirected to it, and any other path under /api/ is a JSON 404.
"""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from catalog.api import crop_manifests, views
from catalog.api.errors import not_found

router = DefaultRouter()
router.APIRootView = views.CatalogRootView
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("volumes", views.VolumeViewSet, basename="volume")
router.register("crops", views.CropViewSet, basename="crop")
router.register("label-classes", views.LabelClassViewSet, basename="labelclass")
router.register("organisms", views.OrganismViewSet, basename="organism")
router.register("tissues", views.TissueViewSet, basename="tissue")
router.register("collections", views.CollectionViewSet, basename="collection")
router.register("publications", views.PublicationViewSet, basename="publication")
router.register("views", views.ViewViewSet, basename="view")
router.register("benchmark-results", views.BenchmarkResultViewSet, basename="benchmarkresult")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("crops/manifest.csv", crop_manifests.CropManifestCsvView.as_view(), name="crop-manifest-csv"),
    path("crops/manifest.json", crop_manifests.CropManifestJsonView.as_view(), name="crop-manifest-json"),
    path("crops/croissant.json", crop_manifests.CropCroissantView.as_view(), name="crop-croissant"),
    *router.urls,
    # (?s): a path holding a newline (/api/x%0A/) is an unknown endpoint too.
    re_path(r"^[\s\S]*$", not_found, name="api-not-found"),
]
