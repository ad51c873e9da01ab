"""Django admin registrations, one module per concern."""

from catalog.admin import core, ingest, states  # noqa: F401
