"""Writes to the catalog, one module per concern (loading manifests, ingest, API edits)."""
