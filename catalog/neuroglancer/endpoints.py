"""Neuroglancer over HTTP: one state document per dataset, volume, crop, curated view, custom
selection and saved state, and the page of the self-hosted viewer.

Any Neuroglancer (ours or the public one) opens ``<viewer>#!<state URL>`` and fetches the
state cross-origin, so every answer carries ``Access-Control-Allow-Origin: *``. States are
cached until the catalog changes and revalidated with a strong ETag (a hash of the body);
saved states never change and are cached for a year. Every GET is pure: it reads the catalog
and writes nothing. A volume that cannot make a layer is left out of a dataset's state (its own
URL answers 409 with the reason, which the write paths also stored on the volume); a state left
with no layer at all is a 409 listing every reason. ``?inline=1`` redirects to the viewer with
the state in the link, or answers 409 naming the limit when that link would be longer than
Django lets a redirect be. Errors use the API's JSON envelope.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt

from catalog import freshness, untrusted_json
from catalog.api.errors import catalog_error_response
from catalog.api.throttling import over_limit
from catalog.errors import CatalogError, ConflictError, InvalidRequestError, NotFoundError
from catalog.models import Crop, CuratedView, Dataset, SavedState, Volume
from catalog.neuroglancer import adapters, recipe
from catalog.neuroglancer.links import (
    INLINE_URL_LIMIT,
    s3_endpoint,
    self_hosted_viewer_available,
    viewer_base_url,
)
from catalog.neuroglancer.saved_states import save_state

STATE_CACHE_CONTROL = "public, max-age=60, must-revalidate"
SAVED_CACHE_CONTROL = "public, max-age=31536000, immutable"
READ_METHODS = ("GET", "HEAD", "OPTIONS")
CUSTOM_METHODS = ("GET", "HEAD", "POST", "OPTIONS")
SAVE_METHODS = ("POST", "OPTIONS")
MAX_CUSTOM_VOLUMES = 500


def _cors(response: HttpResponse, methods: tuple[str, ...]) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = ", ".join(methods)
    response["Access-Control-Allow-Headers"] = "Content-Type, If-None-Match"
    response["Access-Control-Expose-Headers"] = "ETag, Location"
    response["Access-Control-Max-Age"] = "86400"
    return response


def _preflight(methods: tuple[str, ...]) -> HttpResponse:
    response = HttpResponse(status=204)
    response["Allow"] = ", ".join(methods)
    return _cors(response, methods)


def _error(error: CatalogError, methods: tuple[str, ...]) -> HttpResponse:
    response = catalog_error_response(error)
    response["Cache-Control"] = "no-store"
    if error.status == 405:
        response["Allow"] = ", ".join(methods)
    return _cors(response, methods)


def _etag_matches(request: HttpRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if header.strip() == "*":
        return True
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in candidates


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def body_state_response(
    request: HttpRequest,
    body: bytes,
    *,
    cache_control: str = STATE_CACHE_CONTROL,
    methods: tuple[str, ...] = READ_METHODS,
) -> HttpResponse:
    """An encoded state with its ETag, or 304 when the client already holds exactly these bytes."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
    if _etag_matches(request, etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body if request.method != "HEAD" else b"")
        response["Content-Type"] = "application/json"
        response["Content-Length"] = str(len(body))
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return _cors(response, methods)


def _get(queryset: Any, **lookup: Any) -> Any:
    found = queryset.filter(**lookup).first()
    if found is None:
        raise NotFoundError("No such record.")
    return found


def _inline_redirect(request: HttpRequest, body: bytes) -> HttpResponse:
    """``?inline=1``: a redirect to the viewer with the whole state in the link, or, when that link
    would be longer than Django lets a redirect be, a 409 that names the limit and the link to use."""
    base = viewer_base_url(request)
    fragment = recipe.inline_fragment(json.loads(body))
    length = recipe.inline_url_length(base, len(fragment))
    if length > INLINE_URL_LIMIT:
        state_url = request.build_absolute_uri(request.path)
        message = (
            f"The inline link would be {length} characters; the limit is {INLINE_URL_LIMIT}. "
            f"Open {recipe.viewer_url(base, state_url)} instead: the viewer fetches the state from its URL."
        )
        raise ConflictError(message, [{"field": "inline", "message": message}])
    return HttpResponseRedirect(f"{base}#!{fragment}")


def _state_endpoint(build: Callable[..., dict], methods: tuple[str, ...] = READ_METHODS) -> Callable:
    """Wrap a state builder: preflight, method check, the versioned cache, errors as the API's
    envelope (409 with the reason when there is no state), and the ``?inline=1`` redirect."""

    def endpoint(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            return _preflight(methods)
        if request.method not in methods:
            return _error(CatalogError(f"Method {request.method} is not allowed here.", status=405), methods)
        identity = _state_identity(request)
        body = freshness.cache_get("state", identity) if identity else freshness.MISSING
        try:
            if body is freshness.MISSING:
                body = _encode(build(request, **kwargs))
                if identity:
                    query = any(name != "inline" for name in request.GET)
                    freshness.cache_set("state", identity, body, query=query)
            if request.GET.get("inline") in ("1", "true"):
                return _cors(_inline_redirect(request, body), methods)
        except CatalogError as error:
            return _error(error, methods)
        return body_state_response(request, body, methods=methods)

    endpoint.__name__ = build.__name__
    endpoint.__doc__ = build.__doc__
    return csrf_exempt(endpoint)


def _state_identity(request: HttpRequest) -> str | None:
    """What a cached state depends on besides the catalog: path, parameters, S3 endpoint.
    None for a POST (its body is the input)."""
    if request.method not in ("GET", "HEAD") or "prediction" in request.GET:
        return None  # a user's prediction URL: cheap to build, not worth a cache entry each
    parameters = sorted((name, values) for name, values in request.GET.lists() if name != "inline")
    return json.dumps([request.path, parameters, s3_endpoint()])


def _dataset_state(request: HttpRequest, slug: str) -> dict:
    """The dataset's image with every segmentation, prediction and mesh."""
    dataset = _get(Dataset.objects.all(), slug=slug)
    return adapters.shown_state("dataset", adapters.build_dataset_state, dataset)


def _volume_state(request: HttpRequest, pk: int) -> dict:
    """One volume, centred on itself; 409 with the reason when it cannot be shown."""
    volume = _get(adapters.volumes_for_viewer(Volume.objects.select_related("dataset")), pk=pk)
    return adapters.shown_state("volume", adapters.build_volume_state, volume)


def _crop_state(request: HttpRequest, number: int) -> dict:
    """The dataset's EM, the crop's labels and its bounding box, centred on the crop; with
    ``?prediction=<OME-Zarr URL>`` (and ``prediction_type=segmentation|image``), the user's
    prediction over them to compare. The URL is checked as text and never fetched here."""
    prediction = None
    if "prediction" in request.GET or "prediction_type" in request.GET:
        prediction = recipe.parse_prediction(request.GET.get("prediction", ""), request.GET.get("prediction_type"))
    crop = _get(Crop.objects.select_related("dataset").prefetch_related("label_classes"), number=number)
    return adapters.shown_state("crop", adapters.build_crop_state, crop, prediction=prediction)


def _curated_view_state(request: HttpRequest, pk: int) -> dict:
    """A curated view's layers, position, zoom and orientation."""
    view = _get(CuratedView.objects.select_related("dataset").prefetch_related("layers"), pk=pk)
    return adapters.shown_state("view", adapters.build_curated_view_state, view)


def _parse_volume_ids(raw: Any) -> list[int]:
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list) or not raw:
        raise InvalidRequestError.on("volumes", "volumes must be a non-empty list of volume ids, e.g. ?volumes=1,2,3")
    ids = []
    for item in raw:
        try:
            value = int(str(item).strip())
        except ValueError:
            value = 0
        if not 0 < value < 2**63:
            raise InvalidRequestError.on("volumes", f"volumes: {item!r} is not a volume id")
        ids.append(value)
    if len(ids) > MAX_CUSTOM_VOLUMES:
        raise InvalidRequestError.on("volumes", f"volumes: at most {MAX_CUSTOM_VOLUMES} volumes per state")
    return list(dict.fromkeys(ids))


def _requested_volume_ids(request: HttpRequest) -> list[int]:
    if request.method != "POST":
        return _parse_volume_ids(request.GET.get("volumes", ""))
    payload = untrusted_json.load(request.body or b"null")
    if not isinstance(payload, dict):
        raise InvalidRequestError.on("body", 'Send a JSON object: {"volumes": [1, 2, 3]}.')
    unknown = sorted(set(payload) - {"volumes"})
    if unknown:
        raise InvalidRequestError.on(unknown[0], f"Unknown field {unknown[0]!r}; the body holds only volumes.")
    return _parse_volume_ids(payload.get("volumes"))


def _custom_state(request: HttpRequest) -> dict:
    """Volumes chosen by id (``?volumes=1,2,3`` or POST ``{"volumes": [...]}``), all of one dataset."""
    ids = _requested_volume_ids(request)
    queryset = Volume.objects.filter(pk__in=ids).select_related("dataset")
    found = {volume.pk: volume for volume in adapters.volumes_for_viewer(queryset)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise NotFoundError.on("volumes", f"volumes: no volume with id {', '.join(map(str, missing))}")
    if len({volume.dataset_id for volume in found.values()}) > 1:
        slugs = sorted({volume.dataset.slug for volume in found.values()})
        raise InvalidRequestError.on(
            "volumes", f"volumes: all volumes must belong to one dataset, got {', '.join(slugs)}"
        )
    volumes = [found[pk] for pk in ids]
    return adapters.shown_state("selection", adapters.build_custom_state, volumes[0].dataset, volumes)


def _saved_state(request: HttpRequest, key: str) -> HttpResponse:
    """A saved state; never changes, so it is cached for a year."""
    if request.method == "OPTIONS":
        return _preflight(READ_METHODS)
    if request.method not in READ_METHODS:
        return _error(CatalogError(f"Method {request.method} is not allowed here.", status=405), READ_METHODS)
    saved = SavedState.objects.filter(key=key).first()
    if saved is None:
        return _error(NotFoundError("No saved state with this key."), READ_METHODS)
    return body_state_response(request, _encode(saved.state), cache_control=SAVED_CACHE_CONTROL)


dataset_state = _state_endpoint(_dataset_state)
volume_state = _state_endpoint(_volume_state)
crop_state = _state_endpoint(_crop_state)
curated_view_state = _state_endpoint(_curated_view_state)
custom_state = _state_endpoint(_custom_state, CUSTOM_METHODS)
saved_state = csrf_exempt(_saved_state)


def _state_to_save(request: HttpRequest) -> dict:
    """The posted state, checked: size (413), rate (429), a JSON object the catalog can store (finite
    numbers, storable text, bounded nesting) and that Neuroglancer reads (400)."""
    limit = settings.NEUROGLANCER_SAVED_STATE_MAX_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    size = declared if declared > limit else len(request.body)
    if size > limit:
        raise CatalogError(f"The state is {size} bytes; the limit is {limit} bytes.", status=413)
    if over_limit(scope="neuroglancer-save", request=request, rate=settings.NEUROGLANCER_SAVE_RATE):
        raise CatalogError("Too many saved states from this address; try again later.", status=429)
    state = untrusted_json.load(request.body)
    if not isinstance(state, dict) or not state:
        raise InvalidRequestError.on("body", "The body must be a non-empty JSON object (a Neuroglancer state).")
    try:
        return recipe.parse_state(state)
    except Exception as error:  # the package raises many exception types for bad states
        raise InvalidRequestError.on("body", f"Neuroglancer cannot read this state: {error}") from error


@csrf_exempt
def save(request: HttpRequest) -> HttpResponse:
    """Save a state posted as JSON; answer 201 with its permanent short URL.

    Anyone may save (like a URL shortener): bodies are capped at
    ``NEUROGLANCER_SAVED_STATE_MAX_BYTES`` (413), must be a JSON object that
    Neuroglancer's ``ViewerState`` parses (400), and saves are rate-limited per client (429).
    With ``?response=url`` the answer is the bare state URL as a JSON string, which is
    what Neuroglancer's own "share" button expects from a state server.
    """
    if request.method == "OPTIONS":
        return _preflight(SAVE_METHODS)
    if request.method != "POST":
        return _error(CatalogError("POST a Neuroglancer state as JSON to save it.", status=405), SAVE_METHODS)
    try:
        answer = request.GET.get("response")
        if answer not in (None, "url"):
            raise InvalidRequestError.on("response", "response: the only value is `url` (answer with the bare URL).")
        state = _state_to_save(request)
    except CatalogError as error:
        return _error(error, SAVE_METHODS)
    saved = save_state(state=state)
    state_url = request.build_absolute_uri(reverse("state-saved", args=[saved.key]))
    if answer == "url":
        response = JsonResponse(state_url, safe=False, status=201)
    else:
        response = JsonResponse(
            {
                "key": saved.key,
                "neuroglancer_state_url": state_url,
                "neuroglancer_url": recipe.viewer_url(viewer_base_url(request), state_url),
                "size": saved.size,
            },
            status=201,
        )
    response["Location"] = state_url
    return _cors(response, SAVE_METHODS)


def viewer_page(request: HttpRequest) -> HttpResponse:
    """The self-hosted Neuroglancer (viewer/dist/index.html); without a build, a page that says
    so and forwards the state in the URL fragment to the public viewer."""
    if self_hosted_viewer_available():
        index = settings.VIEWER_DIST_DIR / "index.html"
        return HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
    public = settings.PUBLIC_NEUROGLANCER_VIEWER_URL
    page = format_html(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Neuroglancer</title></head><body>"
        "<h1>The self-hosted Neuroglancer viewer is not built</h1>"
        "<p>Run <code>make viewer</code> (needs Node.js) to build it. Until then the portal opens "
        "states in the public viewer at <a id='public-viewer' href='{}'>{}</a>.</p>"
        "<script src='{}'></script></body></html>",
        public,
        public,
        static("js/viewer-fallback.js"),
    )
    return HttpResponse(page)
