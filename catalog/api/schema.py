"""OpenAPI generation details: anonymous reads in the security requirements, and post-processing
hooks. The write payloads' schemas come from the pydantic manifest models (JSON Schema 2020-12);
one hook rewrites the few constructs OpenAPI 3.0 spells differently, another makes the document
say what the server does: the Neuroglancer state endpoints (plain Django views) are described
here, every error status an operation can answer is listed with the error envelope, and query
parameters that refuse an empty value say so (``minLength``)."""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import SAFE_METHODS

from catalog.api.permissions import StaffWriteOrReadOnly
from catalog.downloads import MAX_PADDING_NM
from catalog.untrusted_json import BLANKS


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


ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The API's error envelope.",
    "properties": {
        "status": {"type": "integer"},
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["status", "error", "detail", "errors"],
}
ERROR_DESCRIPTIONS = {
    "400": "A bad parameter or payload; each problem is in `errors` with its field.",
    "401": "Not authenticated (send `Authorization: Token <key>`).",
    "403": "Not allowed: not a curator (staff), or a bucket outside the ingest allow-list.",
    "404": "No such record or page, or a filter names a record that does not exist.",
    "405": "Method not allowed.",
    "409": "The catalog's current state refuses the request: a name or number already taken (or, in a PUT, not "
    "the record's own), a reference to a record that does not exist, a record Neuroglancer cannot show.",
    "413": "The body is over the size limit.",
    "415": "The body is not JSON.",
    "429": "Too many requests; see Retry-After.",
}
# Parameters where an empty value means something (no search, no redirect).
EMPTY_ALLOWED = frozenset({"q", "inline"})
# Bounds of number parameters that drf-spectacular cannot read off the filter or the view
# (catalog.filters, catalog.downloads).
# (The voxel sizes are capped at 1e50 by their form field.)
QUERY_BOUNDS = {
    "voxel_size_min": {"minimum": 0, "maximum": 1e50},
    "voxel_size_max": {"minimum": 0, "maximum": 1e50},
    "number": {"minimum": 1},
    "min_share": {"minimum": 0, "maximum": 1},
    "min_voxels": {"minimum": 1},
    "padding_nm": {"minimum": 0, "maximum": MAX_PADDING_NM},
}


def _error_response(status: str) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
    }


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    """The error statuses an operation may answer, from what it takes and who may call it."""
    statuses = {"404", "405"}
    security = operation.get("security")
    anonymous = security is None or {} in security
    if anonymous:
        statuses.add("429")
    if not anonymous or method in ("post", "put", "patch", "delete"):
        statuses |= {"401", "403"}
    if operation.get("parameters") or "requestBody" in operation:
        statuses.add("400")
    if "requestBody" in operation:
        statuses |= {"409", "413", "415"}
    if path.startswith("/api/states/"):
        statuses.add("409")
    return statuses


def _require_non_empty(parameter: dict[str, Any]) -> None:
    """An empty query value is a 400 (it would otherwise silently mean "no filter"): strings need
    a character other than NUL (forms refuse NUL), a list at least one item."""
    schema = parameter.get("schema", {})
    if parameter.get("in") == "query":
        schema.update(QUERY_BOUNDS.get(parameter.get("name", ""), {}))
    if parameter.get("in") != "query" or parameter.get("name") in EMPTY_ALLOWED:
        return
    if schema.get("type") == "array":
        schema.setdefault("minItems", 1)
        target = schema.get("items", {})
    else:
        target = schema
    if target.get("type") == "string" and "enum" not in target:
        target.setdefault("minLength", 1)
        target.setdefault("pattern", "^[^\\x00]+$")


STATE_BODY = {
    "description": "A Neuroglancer viewer state (JSON); ETag, Cache-Control and CORS headers. "
    "With `inline=1` or `inline=true`, a redirect to the viewer with the state in the link.",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
INLINE_PARAMETER = {
    "name": "inline",
    "in": "query",
    "description": "`1` or `true`: redirect (302) to the viewer with the state inline in the link; any other "
    "value or none: the state as JSON.",
    "schema": {"type": "string"},
}
REDIRECT = {"description": "The viewer, with the state in the link (`inline=1`)."}
NOT_MODIFIED = {"description": "The client's copy (If-None-Match) is current."}


def _state_get(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": "states_" + summary.lower().replace(" ", "_").replace(",", ""),
            "summary": summary,
            "tags": ["states"],
            "parameters": [*parameters, INLINE_PARAMETER],
            "security": [{}],
            "responses": {"200": STATE_BODY, "302": REDIRECT, "304": NOT_MODIFIED},
        }
    }


def _path_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
VOLUME_IDS_PATTERN = r"^[1-9][0-9]{0,17}(,[1-9][0-9]{0,17}){0,499}$"
SAVED_STATE_RESPONSE = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "neuroglancer_state_url": {"type": "string", "format": "uri"},
        "neuroglancer_url": {"type": "string", "format": "uri"},
        "size": {"type": "integer"},
    },
    "required": ["key", "neuroglancer_state_url", "neuroglancer_url", "size"],
}
STATE_PATHS: dict[str, dict[str, Any]] = {
    "/api/states/datasets/{slug}/": _state_get(
        "Dataset state",
        [_path_parameter("slug", {"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$"}, "Dataset slug.")],
    ),
    "/api/states/volumes/{id}/": _state_get("Volume state", [_path_parameter("id", ID_SCHEMA, "Volume id.")]),
    "/api/states/crops/{number}/": _state_get("Crop state", [_path_parameter("number", ID_SCHEMA, "Crop number.")]),
    "/api/states/views/{id}/": _state_get("Curated view state", [_path_parameter("id", ID_SCHEMA, "View id.")]),
    "/api/states/custom/": {
        **_state_get(
            "Custom state",
            [
                {
                    "name": "volumes",
                    "in": "query",
                    "required": True,
                    "description": "Comma-separated ids of volumes of one dataset (at most 500).",
                    "schema": {"type": "string", "pattern": VOLUME_IDS_PATTERN},
                }
            ],
        ),
        "post": {
            "operationId": "states_custom_post",
            "summary": "Custom state (ids in the body)",
            "tags": ["states"],
            "security": [{}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "volumes": {
                                    "type": "array",
                                    "items": ID_SCHEMA,
                                    "minItems": 1,
                                    "maxItems": 500,
                                    "description": "Ids of volumes of one dataset.",
                                }
                            },
                            "required": ["volumes"],
                            "additionalProperties": False,
                        }
                    }
                },
            },
            "responses": {"200": STATE_BODY},
        },
    },
    "/api/states/saved/": {
        "post": {
            "operationId": "states_save",
            "summary": "Save a viewer state as a permanent short link",
            "description": "Anyone may save; at most NEUROGLANCER_SAVED_STATE_MAX_BYTES (1 MiB by default), numbers "
            "finite, strings without NUL characters or lone surrogates, nesting at most 32 levels, and a state "
            "Neuroglancer reads. The same state saved twice gets the same key.",
            "tags": ["states"],
            "security": [{}],
            "parameters": [
                {
                    "name": "response",
                    "in": "query",
                    "description": "`url`: answer with the bare state URL as a JSON string (what Neuroglancer's "
                    "share button expects of a state server).",
                    "schema": {"type": "string", "enum": ["url"]},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", "minProperties": 1}}},
            },
            "responses": {
                "201": {
                    "description": "Saved; Location is the state URL.",
                    "content": {"application/json": {"schema": {"oneOf": [SAVED_STATE_RESPONSE, {"type": "string"}]}}},
                }
            },
        }
    },
    "/api/states/saved/{key}/": {
        "get": {
            "operationId": "states_saved",
            "summary": "A saved state (immutable, cached for a year)",
            "tags": ["states"],
            "security": [{}],
            "parameters": [
                _path_parameter(
                    "key", {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,32}$"}, "The key the save answered."
                )
            ],
            "responses": {"200": STATE_BODY, "304": NOT_MODIFIED},
        }
    },
}


PYTHON_BLANKS = BLANKS + r"\x1c-\x1f"
"""What ``str.strip`` (and DRF's trimming) removes: Unicode's blanks and the separators U+001C..U+001F."""


def conversion_source_pattern() -> str:
    """What ``POST /api/conversions/`` accepts as ``source`` once blanks around it are trimmed: an
    s3:// URL of an allow-listed bucket (catalog.services.conversion) or any https:// URL."""
    s3 = ingest_prefix_pattern()[1:-1]
    return f"^[{PYTHON_BLANKS}]*(?:{s3}|https://[^\\x00]*)[{PYTHON_BLANKS}]*$"


AXES_ORDERS = sorted({"".join(order) for size in (3, 4) for order in itertools.permutations("zyxc"[:size])})
AXES_PATTERN = (
    f"^[{PYTHON_BLANKS}]*(?:"
    + "|".join("".join(f"[{c.upper()}{c}]" for c in order) for order in AXES_ORDERS)
    + f")?[{PYTHON_BLANKS}]*$"
)
"""An order of zyx or zyxc in any case, or nothing (catalog.services.conversion)."""


def ingest_prefix_pattern() -> str:
    """What ``POST /api/ingest/`` accepts as ``prefix``: an s3:// URL of an allow-listed bucket, no
    blanks, no ``.`` or ``..`` path segment (catalog.s3.parse_s3_url refuses those)."""
    buckets = "|".join(re.escape(bucket) for bucket in settings.INGEST_ALLOWED_BUCKETS) or "(?!x)x"
    char = f"[^/{BLANKS}\\x00]"
    first = f"[^/.{BLANKS}\\x00]"
    segment = f"(?:{first}{char}*|\\.{first}{char}*|\\.\\.{char}+)?"
    return rf"^s3://(?:{buckets})(?:/{segment})*$"


NO_NUL_PATTERN = "^[^\\x00]*$"
NON_BLANK_PATTERN = f"^[^\\x00]*[^{BLANKS}\\x00][^\\x00]*$"


def _forbid_nul(node: Any) -> None:
    """Every free-text string refuses NUL (the database cannot store it; the manifest models and
    catalog.untrusted_json answer 400): say so with a pattern where the schema has none."""
    if isinstance(node, list):
        for item in node:
            _forbid_nul(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"enum", "pattern", "format"} & set(node):
        # Surrounding blanks are stripped before a minimum length is checked: it needs a non-blank.
        node["pattern"] = NON_BLANK_PATTERN if node.get("minLength", 0) >= 1 else NO_NUL_PATTERN
    for value in node.values():
        _forbid_nul(value)


def server_truth_hook(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: add the state endpoints, the error statuses
    with the envelope, and ``minLength`` on query parameters that refuse an empty value."""
    paths = result.setdefault("paths", {})
    for path, item in STATE_PATHS.items():
        paths.setdefault(path, item)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_COMPONENT] = copy.deepcopy(ERROR_SCHEMA)  # _forbid_nul edits it in place
    _forbid_nul(schemas)
    conversion = schemas.get("ConversionRequestRequest")
    if conversion is not None:
        conversion["properties"]["source"]["pattern"] = conversion_source_pattern()
        conversion["properties"]["axes"]["pattern"] = AXES_PATTERN
        conversion["additionalProperties"] = False
        sizes = schemas.get("VoxelSizeRequest", {}).get("properties", {})
        for axis in sizes.values():  # sizes must be positive, not merely at least 0
            axis.pop("minimum", None)
            axis.update({"minimum": 0, "exclusiveMinimum": True})
    ingest = schemas.get("IngestRequestRequest")
    if ingest is not None:
        ingest["properties"]["prefix"]["pattern"] = ingest_prefix_pattern()
        ingest["additionalProperties"] = False
    for path, item in paths.items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                _require_non_empty(parameter)
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(path, method, operation)):
                responses.setdefault(status, _error_response(status))
    return result
