"""URLs mounted under /bench/ only when PORTAL_BENCH=1."""

from django.urls import path

from bench.views import floor

urlpatterns = [path("floor/", floor, name="bench-floor")]
