"""Django admin registrations, one module per concern."""

from catalog.admin import conversions, core, ingest, states  # noqa: F401
