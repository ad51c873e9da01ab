"""URLs of the staff-only ingest endpoints (mounted at /api/ingest/)."""

from django.urls import path

from catalog.api.ingest import IngestRunDetailView, IngestRunListCreateView

urlpatterns = [
    path("", IngestRunListCreateView.as_view(), name="ingest-run-list"),
    path("<int:pk>/", IngestRunDetailView.as_view(), name="ingest-run-detail"),
]
