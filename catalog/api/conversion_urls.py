"""URLs of the staff-only conversion endpoints (mounted at /api/conversions/)."""

from django.urls import path

from catalog.api.conversions import ConversionRunDetailView, ConversionRunListCreateView

urlpatterns = [
    path("", ConversionRunListCreateView.as_view(), name="conversion-run-list"),
    path("<int:pk>/", ConversionRunDetailView.as_view(), name="conversion-run-detail"),
]
