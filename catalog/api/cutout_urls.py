"""URLs of the cut-out endpoints (mounted at /api/cutouts/)."""

from django.urls import path

from catalog.api.cutouts import CutoutRunCreateView, CutoutRunDetailView

urlpatterns = [
    path("", CutoutRunCreateView.as_view(), name="cutout-run-list"),
    path("<int:pk>/", CutoutRunDetailView.as_view(), name="cutout-run-detail"),
]
