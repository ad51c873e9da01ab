"""OpenAPI generation details: anonymous reads in the security requirements, and a
post-processing hook. The write payloads' schemas come from the pydantic manifest models
(JSON Schema 2020-12); the hook rewrites the few constructs OpenAPI 3.0 spells differently."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import SAFE_METHODS

from catalog.api.permissions import StaffWriteOrReadOnly


class CatalogAutoSchema(AutoSchema):
    """Reads need no credentials: say so (an empty security requirement) on safe methods."""

    def get_auth(self) -> list[dict[str, Any]]:
        auths = super().get_auth()
        permissions = [permission.__class__ for permission in self.view.get_permissions()]
        if StaffWriteOrReadOnly in permissions and self.method in SAFE_METHODS and {} not in auths:
            auths.append({})
        return auths


def _openapi30(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _openapi30(value) for key, value in node.items()}
    for keyword, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(keyword), int | float) and not isinstance(node.get(keyword), bool):
            node[bound] = node.pop(keyword)
            node[keyword] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    for keyword in ("anyOf", "oneOf"):
        options = node.get(keyword)
        if isinstance(options, list) and any(option == {"type": "null"} for option in options):
            rest = [option for option in options if option != {"type": "null"}]
            node.pop(keyword)
            node["nullable"] = True
            if len(rest) == 1 and "$ref" not in rest[0]:
                node = {**rest[0], **node}
            elif len(rest) == 1:
                node["allOf"] = rest
            else:
                node[keyword] = rest
    return node


def openapi_30_hook(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    return _openapi30(result)
