"""The catalog-scale benchmark behind ``make bench``: a synthetic catalog in PostgreSQL, the
portal under gunicorn, a fixed mix of requests driven by wrk, and a table of what it measured.

Nothing in here is imported by the portal unless ``PORTAL_BENCH=1`` (the floor view) or
``PORTAL_COUNT_QUERIES=1`` (the query-counting middleware) is set.
"""
