"""The API's one request parser: JSON (manifests are nested objects that forms cannot carry),
read by ``catalog.untrusted_json`` so NaN, infinities, NUL characters, lone surrogates and
deep nesting are a 400 naming where they are instead of a 500 or a stored record."""

from __future__ import annotations

from typing import IO, Any

from rest_framework.parsers import JSONParser

from catalog import untrusted_json


class CatalogJSONParser(JSONParser):
    """``application/json`` bodies (UTF-8, as RFC 8259 requires)."""

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None) -> Any:
        return untrusted_json.load(stream.read())
