"""Shared fixtures: factories, an S3 server on loopback and a headless browser."""

pytest_plugins = ["tests.fixtures.s3", "tests.fixtures.browser"]
