"""Django admin registrations, one module per concern."""

from catalog.admin import conversions, core, cutouts, ingest, states  # noqa: F401
