"""Which Neuroglancer opens a state, and the state and viewer URLs of every catalog record.

Links cost no query: they only reverse URLs and read settings, so lists can carry them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from catalog.neuroglancer import recipe

Kind = Literal["dataset", "volume", "crop", "view"]
STATE_URL_NAMES: dict[str, str] = {
    "dataset": "state-dataset",
    "volume": "state-volume",
    "crop": "state-crop",
    "view": "state-view",
}


def s3_endpoint() -> str:
    """The S3-compatible server sources are read from (blank: AWS itself)."""
    return settings.AWS_ENDPOINT_URL_S3


def self_hosted_viewer_available() -> bool:
    """True when ``make viewer`` has built the Neuroglancer client into viewer/dist/."""
    return (Path(settings.VIEWER_DIST_DIR) / "index.html").is_file()


def viewer_base_url(request: HttpRequest | None = None) -> str:
    """The Neuroglancer that links open: the setting, else our /neuroglancer/, else the public one."""
    if settings.NEUROGLANCER_VIEWER_URL:
        return settings.NEUROGLANCER_VIEWER_URL
    if self_hosted_viewer_available():
        path = reverse("neuroglancer-viewer")
        return request.build_absolute_uri(path) if request is not None else path
    return settings.PUBLIC_NEUROGLANCER_VIEWER_URL


def neuroglancer_links(request: HttpRequest | None, kind: Kind, key: str | int) -> dict[str, str]:
    """The state URL of a dataset (slug), volume (pk), crop (number) or curated view (pk) and the
    viewer link opening it; ``neuroglancer_inline_url`` redirects to the viewer with the state inline."""
    path = reverse(STATE_URL_NAMES[kind], args=[key])
    state_url = request.build_absolute_uri(path) if request is not None else path
    return {
        "neuroglancer_state_url": state_url,
        "neuroglancer_url": recipe.viewer_url(viewer_base_url(request), state_url),
        "neuroglancer_inline_url": f"{state_url}?inline=1",
    }
