"""pydantic models for the documents the catalog reads: manifests and S3 attribute files."""
