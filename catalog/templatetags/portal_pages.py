"""Formatting helpers for the browse pages: numbers with units, axis triples, safe markdown."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from catalog.models.base import AXES
from catalog.neuroglancer.links import viewer_base_url

register = template.Library()

# Joins per-axis values with a multiplication sign.
TIMES = " \u00d7 "

# Characters that could end a <script> element or open an HTML comment inside JSON.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}

# CommonMark (plus GitHub's pipe tables) without raw HTML: anything HTML-like in a description
# is shown as text, and the parser refuses javascript:, vbscript: and data: link targets.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
# Public Neuroglancer deployments that source documents link to; their links are re-pointed
# at the portal's own viewer.
PUBLIC_VIEWER_HOSTS = {"neuroglancer-demo.appspot.com"}


def _number(value: float) -> str:
    """A measurement without float noise: 4.0 -> "4", 5.24 -> "5.24", 1234567 -> "1,234,567"."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"


@register.filter
def number(value: Any) -> str:
    """Format a number for display; blank for None."""
    if value is None or value == "":
        return ""
    return _number(float(value))


@register.filter
def axes(obj: Any, prefix: str) -> str:
    """``prefix_x/y/z`` of a record as "x by y by z" (blank when no axis is set)."""
    values = [getattr(obj, f"{prefix}_{axis}", None) for axis in AXES]
    if all(value is None for value in values):
        return ""
    return TIMES.join("?" if value is None else _number(abs(float(value))) for value in values)


@register.filter
def share(value: Any) -> str:
    """A share of a crop (0 to 1) as a percentage with the precision it needs: 0.5 -> "50 %",
    0.034 -> "3.4 %", 0.00012 -> "0.012 %"; blank when unknown (None)."""
    if value is None or value == "":
        return ""
    percent = float(value) * 100
    if percent == 0:
        return "0 %"
    if percent >= 10:
        return f"{percent:.0f} %"
    if percent >= 1:
        return f"{percent:.1f} %"
    return f"{percent:.2g} %"


@register.filter
def extent_um(obj: Any) -> str:
    """A dataset's physical extent in micrometres, "x by y by z µm"."""
    values = [getattr(obj, f"extent_{axis}", None) for axis in AXES]
    if any(value is None for value in values):
        return ""
    return TIMES.join(_number(round(float(value) / 1000, 1)) for value in values) + " µm"


@register.filter
def crop_size_um(crop: Any) -> str:
    """A crop's physical size in micrometres (shape times voxel size)."""
    sizes = [getattr(crop, f"shape_{axis}") * getattr(crop, f"voxel_size_{axis}") / 1000 for axis in AXES]
    return TIMES.join(_number(round(size, 2)) for size in sizes) + " µm"


@register.filter
def placeholder_style(slug: str) -> str:
    """CSS variables that give each dataset's placeholder its own, stable arrangement of blobs."""
    digest = hashlib.sha256(slug.encode()).digest()
    positions = {name: 15 + digest[index] % 70 for index, name in enumerate(("ax", "ay", "bx", "by", "cx", "cy"))}
    hue = 190 + digest[6] % 40
    return ";".join([*(f"--{name}:{value}%" for name, value in positions.items()), f"--hue:{hue}"])


@register.simple_tag
def ld_json(data: dict[str, Any]) -> SafeString:
    """Embed JSON-LD in a page: a <script type="application/ld+json"> that no value can break out of."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_SCRIPT_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(text))


def _public_viewer_state(href: str) -> str | None:
    """The state part (after ``#!``) of a link into a public Neuroglancer; None for other links."""
    base, marker, state = href.partition("#!")
    parts = urlsplit(base)
    hosts = PUBLIC_VIEWER_HOSTS | {urlsplit(settings.PUBLIC_NEUROGLANCER_VIEWER_URL).netloc}
    if marker and parts.scheme in ("http", "https") and parts.netloc in hosts and state:
        return state
    return None


@register.simple_tag(takes_context=True)
def markdown(context: template.Context, text: str) -> SafeString:
    """Render curator-written markdown; raw HTML in the source is escaped, never passed through.

    Links into a public Neuroglancer open the same state in the portal's own viewer (its
    setting, else the self-hosted one), as every other viewer link of the portal does.
    """
    tokens = _MARKDOWN.parse(text or "")
    base = None
    for token in tokens:
        for child in token.children or []:
            if child.type != "link_open":
                continue
            state = _public_viewer_state(str(child.attrGet("href") or ""))
            if state is not None:
                base = base or viewer_base_url(context.get("request"))
                child.attrSet("href", f"{base}#!{state}")
    return mark_safe(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **changes: Any) -> str:
    """The current query string with some parameters replaced (``None`` removes one)."""
    params: QueryDict = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def media_url(path: str) -> str:
    """The public URL of a stored file (local media or the S3 media bucket)."""
    return default_storage.url(path) if path else ""


@register.simple_tag
def elided_pages(page: Any) -> list[Any]:
    """Page numbers around the current one, the first and the last, with ellipses between:
    the work stays the same however many pages the catalog fills."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
