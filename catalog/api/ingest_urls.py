"""URLs of the staff-only ingest endpoints."""

urlpatterns: list = []
