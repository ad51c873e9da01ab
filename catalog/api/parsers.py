"""The API's one request parser: JSON (manifests are nested objects that forms cannot carry),
read by ``catalog.untrusted_json`` so NaN, infinities, NUL characters, lone surrogates and
deep nesting are a 400 naming where they are instead of a 500 or a stored record."""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from catalog import untrusted_json
from catalog.errors import CatalogError


class CatalogJSONParser(JSONParser):
    """``application/json`` bodies (UTF-8, as RFC 8259 requires), at most ``DATA_UPLOAD_MAX_MEMORY_SIZE``
    bytes (DRF reads the stream itself, so Django's own check does not apply)."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise CatalogError(f"The body is over the limit of {limit} bytes.", status=413)
        return untrusted_json.load(body)
