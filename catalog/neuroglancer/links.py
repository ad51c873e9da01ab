"""Which Neuroglancer opens a state, and the state and viewer URLs of every catalog record.

Links cost no query: they reverse URLs, read settings and read what the write paths stored on
the record (``viewer_problem``, ``inline_state_length``; see ``catalog.indexing``), so every
item of a list carries them. A record that cannot make a state gets its reason instead of links,
and an inline link is offered only when it fits the redirect limit, else the state-URL link.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.http import MAX_URL_REDIRECT_LENGTH

from catalog.neuroglancer import recipe

Kind = Literal["dataset", "volume", "crop", "view"]
STATE_URL_NAMES: dict[str, str] = {
    "dataset": "state-dataset",
    "volume": "state-volume",
    "crop": "state-crop",
    "view": "state-view",
}
RECORD_KEYS: dict[str, str] = {"dataset": "slug", "volume": "pk", "crop": "number", "view": "pk"}
"""The attribute that names a record in its state URL."""
INLINE_URL_LIMIT = MAX_URL_REDIRECT_LENGTH
"""The longest URL Django redirects to (``DisallowedRedirect`` beyond): an inline link must fit."""


def s3_endpoint() -> str:
    """The S3-compatible server sources are read from (blank: AWS itself)."""
    return settings.AWS_ENDPOINT_URL_S3


def self_hosted_viewer_available() -> bool:
    """True when ``make viewer`` has built the Neuroglancer client into viewer/dist/."""
    return (Path(settings.VIEWER_DIST_DIR) / "index.html").is_file()


def absolute_url(request: HttpRequest | None, path: str) -> str:
    """``request.build_absolute_uri(path)`` (``path`` itself without a request) for the paths
    the portal reverses: the request's origin is worked out once, not once per link of a list."""
    if request is None:
        return path
    if not path.startswith("/") or path.startswith("//") or "/." in path:
        return request.build_absolute_uri(path)
    origin = request.__dict__.get("_catalog_origin")
    if origin is None:
        origin = request.__dict__["_catalog_origin"] = request.build_absolute_uri("/")[:-1]
    return origin + path


def viewer_base_url(request: HttpRequest | None = None) -> str:
    """The Neuroglancer that links open: the setting, else our /neuroglancer/, else the public
    one (decided once per request: a list asks for every row)."""
    if request is not None and "_catalog_viewer" in request.__dict__:
        return request.__dict__["_catalog_viewer"]
    if settings.NEUROGLANCER_VIEWER_URL:
        found = settings.NEUROGLANCER_VIEWER_URL
    elif self_hosted_viewer_available():
        found = absolute_url(request, reverse("neuroglancer-viewer"))
    else:
        found = settings.PUBLIC_NEUROGLANCER_VIEWER_URL
    if request is not None:
        request.__dict__["_catalog_viewer"] = found
    return found


KEY_MARKS: dict[str, str] = {"dataset": "key-mark", "volume": "987654321", "crop": "987654321", "view": "987654321"}
"""A key each record's URL patterns accept and no other part of their paths holds."""


def reverse_for(name: str, kind: Kind, key: str | int) -> str:
    """``reverse(name, args=[key])`` for a URL named by a record's key: the pattern is reversed
    once per process with ``KEY_MARKS[kind]`` in its place, not once per list row."""
    path = _reversed_with_mark(name, KEY_MARKS[kind], get_script_prefix(), get_urlconf())
    return path.replace(KEY_MARKS[kind], str(key), 1)


@cache
def _reversed_with_mark(name: str, mark: str, script_prefix: str, urlconf: str | None) -> str:
    return reverse(name, args=[mark])


def neuroglancer_links(
    request: HttpRequest | None, kind: Kind, key: str | int, inline_length: int | None = None
) -> dict[str, str]:
    """The state URL of a dataset (slug), volume (pk), crop (number) or curated view (pk) and the
    viewer link opening it. ``neuroglancer_inline_url`` redirects to the viewer with the state
    inline when the state's inline fragment (``inline_length`` characters) fits the redirect
    limit; otherwise, or when the length is not known, it is the viewer link itself."""
    path = reverse_for(STATE_URL_NAMES[kind], kind, key)
    state_url = absolute_url(request, path)
    viewer_base = viewer_base_url(request)
    viewer_link = recipe.viewer_url(viewer_base, state_url)
    fits = inline_length is not None and recipe.inline_url_length(viewer_base, inline_length) <= INLINE_URL_LIMIT
    return {
        "neuroglancer_state_url": state_url,
        "neuroglancer_url": viewer_link,
        "neuroglancer_inline_url": f"{state_url}?inline=1" if fits else viewer_link,
    }


def record_links(request: HttpRequest | None, kind: Kind, record: Any) -> dict[str, Any]:
    """A record's viewer links and ``viewer_problem``: without a state (``record.viewer_problem``
    stored), every link is None and the problem says why, as ``{field, message}``."""
    if record.viewer_problem:
        return {
            "neuroglancer_url": None,
            "neuroglancer_state_url": None,
            "neuroglancer_inline_url": None,
            "viewer_problem": {"field": record.viewer_problem_field, "message": record.viewer_problem},
        }
    links = neuroglancer_links(request, kind, getattr(record, RECORD_KEYS[kind]), record.inline_state_length)
    return {**links, "viewer_problem": None}
