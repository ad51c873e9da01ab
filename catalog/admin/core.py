"""Admin for the catalog records."""
