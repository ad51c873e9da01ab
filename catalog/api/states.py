"""Neuroglancer states over HTTP: one JSON document per dataset, volume, crop, view, custom
selection and saved state, plus the self-hosted viewer page.

Any Neuroglancer (ours or the public one) opens ``<viewer>#!<state URL>`` and fetches the
state cross-origin, so every answer carries ``Access-Control-Allow-Origin: *``. States are
cached briefly and revalidated with a strong ETag (a hash of the body); saved states never
change and are cached for a year. A state request never answers 500: a volume that cannot
make a layer is left out (its own URL answers 409 with the reason), a state left with no
layer at all (the platelet TIFFs) is a 409 listing every reason, and anything else the
recipe rejects is a 409 naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from catalog import neuroglancer as ng
from catalog import viewer
from catalog.models import Crop, Dataset, SavedState, View, Volume
from catalog.selectors import get_catalog_version
from catalog.services.viewer import record_viewer_problem, save_state

logger = logging.getLogger(__name__)

STATE_CACHE_CONTROL = "public, max-age=60, must-revalidate"
STATE_CACHE_SECONDS = 24 * 3600
SAVED_CACHE_CONTROL = "public, max-age=31536000, immutable"
READ_METHODS = ("GET", "HEAD", "OPTIONS")
RECIPE_ERRORS = (ValueError, TypeError, ArithmeticError, KeyError)
"""What odd catalog data could make the recipe raise; answered 409, never 500."""


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


def _error(status: int, detail: str, methods: tuple[str, ...] = READ_METHODS, **extra: Any) -> JsonResponse:
    response = JsonResponse({"detail": detail, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    return _cors(response, methods)  # type: ignore[return-value]


def _etag_matches(request: HttpRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    if header.strip() == "*":
        return True
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in candidates


def json_state_response(request: HttpRequest, data: Any, *, cache_control: str = STATE_CACHE_CONTROL) -> HttpResponse:
    """JSON with CORS, a strong ETag and conditional GET (304 when the client's copy is current)."""
    return body_state_response(request, _encode(data), cache_control=cache_control)


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def body_state_response(request: HttpRequest, body: bytes, *, cache_control: str = STATE_CACHE_CONTROL) -> HttpResponse:
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
    return _cors(response, READ_METHODS)


class NothingToShowError(Exception):
    """A state would have no layer at all; answered 409 with every volume's reason."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


def _checked(result: ng.StateResult, volumes: dict[int, Volume], what: str) -> dict:
    """Record each left-out volume's reason on it; refuse a state with no layer at all."""
    skipped = []
    for info, error in result.skipped:
        volume = volumes.get(info.id)
        if volume is not None:
            record_viewer_problem(volume=volume, error=error)
        skipped.append({"volume": info.id, "name": info.name, **error.as_error()})
    if skipped:
        logger.info("Neuroglancer state left out %d volume(s): %s", len(skipped), skipped)
    if not result.state.get("layers"):
        if skipped:
            raise NothingToShowError(f"None of the volumes of this {what} can be shown in Neuroglancer.", skipped)
        raise NothingToShowError(f"This {what} has no volumes to show.", [])
    return result.state


def _state_view(build: Callable[[HttpRequest], Any], methods: tuple[str, ...] = READ_METHODS) -> Callable:
    """Wrap a state builder: preflight, method check, 409 for recipe errors, ``?inline=1`` redirect."""

    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            return _preflight(methods)
        if request.method not in methods:
            return _error(405, f"Method {request.method} is not allowed here.", methods)
        key = _state_cache_key(request)
        body = cache.get(key) if key else None
        if body is not None:
            return _state_response(request, body, methods)
        try:
            state = build(request, **kwargs)
        except Http404:
            return _error(404, "No such record.", methods)
        except ng.NotViewableError as error:
            return _error(409, error.message, methods, errors=[error.as_error()])
        except NothingToShowError as error:
            return _error(409, error.message, methods, errors=error.errors)
        except RECIPE_ERRORS as error:
            logger.exception("Neuroglancer state could not be built for %s", request.path)
            return _error(409, f"No viewer state can be made from this record: {error}", methods)
        if isinstance(state, HttpResponse):
            return state
        body = _encode(state)
        if key:
            cache.set(key, body, timeout=STATE_CACHE_SECONDS)
        return _state_response(request, body, methods)

    view.__name__ = build.__name__
    view.__doc__ = build.__doc__
    return csrf_exempt(view)


def _state_cache_key(request: HttpRequest) -> str | None:
    """Built states are cached per catalog version: any write bumps it, so no entry outlives its data.
    The key covers what a state depends on besides the catalog: path, parameters, S3 endpoint."""
    if request.method not in ("GET", "HEAD"):
        return None
    parameters = sorted((name, values) for name, values in request.GET.lists() if name != "inline")
    identity = json.dumps([request.path, parameters, viewer.s3_endpoint()])
    return f"state:{get_catalog_version()}:{hashlib.sha256(identity.encode()).hexdigest()}"


def _state_response(request: HttpRequest, body: bytes, methods: tuple[str, ...]) -> HttpResponse:
    if request.GET.get("inline") in ("1", "true"):
        response = HttpResponseRedirect(ng.inline_neuroglancer_url(viewer.viewer_base_url(request), json.loads(body)))
        return _cors(response, methods)
    return body_state_response(request, body)


def _dataset_state(request: HttpRequest, slug: str) -> dict:
    """The dataset's image with every segmentation, prediction and mesh."""
    dataset = get_object_or_404(Dataset, slug=slug)
    result, volumes = viewer.build_dataset_state(dataset)
    return _checked(result, volumes, "dataset")


def _volume_state(request: HttpRequest, pk: int) -> dict:
    """One volume, centred on itself; 409 with the reason when it cannot be shown."""
    volume = get_object_or_404(viewer.volumes_for_viewer(Volume.objects.select_related("dataset")), pk=pk)
    try:
        return viewer.build_volume_state(volume)
    except ng.NotViewableError as error:
        record_viewer_problem(volume=volume, error=error)
        raise


def _crop_state(request: HttpRequest, number: int) -> dict:
    """The dataset's EM, the crop's labels and its bounding box, centred on the crop."""
    crop = get_object_or_404(Crop.objects.select_related("dataset").prefetch_related("label_classes"), number=number)
    result, volumes = viewer.build_crop_state(crop)
    return _checked(result, volumes, "crop")


def _view_state(request: HttpRequest, pk: int) -> dict:
    """A curated view's layers, position, zoom and orientation."""
    view = get_object_or_404(View.objects.select_related("dataset").prefetch_related("layers"), pk=pk)
    result, volumes = viewer.build_view_state(view)
    return _checked(result, volumes, "view")


def _parse_volume_ids(raw: Any) -> list[int]:
    if isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list) or not raw:
        raise ValueError("volumes must be a non-empty list of volume ids, e.g. ?volumes=1,2,3")
    ids = []
    for item in raw:
        try:
            value = int(str(item).strip())
        except ValueError:
            value = 0
        if not 0 < value < 2**63:
            raise ValueError(f"volumes: {item!r} is not a volume id")
        ids.append(value)
    if len(ids) > 500:
        raise ValueError("volumes: at most 500 volumes per state")
    return list(dict.fromkeys(ids))


def _custom_state(request: HttpRequest) -> dict | HttpResponse:
    """Volumes chosen by id (``?volumes=1,2,3`` or POST ``{"volumes": [...]}``), all of one dataset."""
    methods = ("GET", "HEAD", "POST", "OPTIONS")
    try:
        if request.method == "POST":
            try:
                payload = json.loads(request.body or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "The body is not valid JSON.", methods)
            if not isinstance(payload, dict):
                return _error(400, 'Send a JSON object: {"volumes": [1, 2, 3]}.', methods)
            ids = _parse_volume_ids(payload.get("volumes"))
        else:
            ids = _parse_volume_ids(request.GET.get("volumes", ""))
    except ValueError as error:
        return _error(400, str(error), methods)
    found = {v.pk: v for v in viewer.volumes_for_viewer(Volume.objects.filter(pk__in=ids).select_related("dataset"))}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        return _error(404, f"volumes: no volume with id {', '.join(map(str, missing))}", methods)
    datasets = {v.dataset_id for v in found.values()}
    if len(datasets) > 1:
        slugs = sorted({v.dataset.slug for v in found.values()})
        return _error(400, f"volumes: all volumes must belong to one dataset, got {', '.join(slugs)}", methods)
    volumes = [found[pk] for pk in ids]
    result, by_id = viewer.build_custom_state(volumes[0].dataset, volumes)
    return _checked(result, by_id, "selection")


def _saved_state(request: HttpRequest, key: str) -> HttpResponse:
    """A saved state; never changes, so it is cached for a year."""
    saved = get_object_or_404(SavedState, key=key)
    return json_state_response(request, saved.state, cache_control=SAVED_CACHE_CONTROL)


dataset_state = _state_view(_dataset_state)
volume_state = _state_view(_volume_state)
crop_state = _state_view(_crop_state)
view_state = _state_view(_view_state)
custom_state = _state_view(_custom_state, ("GET", "HEAD", "POST", "OPTIONS"))
saved_state = _state_view(_saved_state)


def _throttled(request: HttpRequest) -> bool:
    """A fixed-window limit on saves per client address (``NEUROGLANCER_SAVE_RATE``, e.g. 30/minute)."""
    count_text, _, period = settings.NEUROGLANCER_SAVE_RATE.partition("/")
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}.get(period.strip(), 60)
    key = f"neuroglancer-save:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=seconds)
        count = 1
    return count > int(count_text)


@csrf_exempt
def save(request: HttpRequest) -> HttpResponse:
    """Save a state posted as JSON; answer 201 with its permanent short URL.

    Anyone may save (like a URL shortener): bodies are capped at
    ``NEUROGLANCER_SAVED_STATE_MAX_BYTES`` (413), must be a JSON object that
    Neuroglancer's ``ViewerState`` parses (400), and saves are rate-limited per client (429).
    With ``?response=url`` the answer is the bare state URL as a JSON string, which is
    what Neuroglancer's own "share" button expects from a state server.
    """
    methods = ("POST", "OPTIONS")
    if request.method == "OPTIONS":
        return _preflight(methods)
    if request.method != "POST":
        return _error(405, "POST a Neuroglancer state as JSON to save it.", methods)
    limit = settings.NEUROGLANCER_SAVED_STATE_MAX_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _error(413, f"The state is {declared} bytes; the limit is {limit} bytes.", methods)
    body = request.body
    if len(body) > limit:
        return _error(413, f"The state is {len(body)} bytes; the limit is {limit} bytes.", methods)
    if _throttled(request):
        return _error(429, "Too many saved states from this address; try again later.", methods)
    try:
        state = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return _error(400, f"The body is not valid JSON: {error}", methods)
    if not isinstance(state, dict) or not state:
        return _error(400, "The body must be a non-empty JSON object (a Neuroglancer state).", methods)
    try:
        state = ng.parse_state(state)
    except Exception as error:  # the package raises many exception types for bad states
        return _error(400, f"Neuroglancer cannot read this state: {error}", methods)
    saved = save_state(state=state)
    state_url = request.build_absolute_uri(reverse("state-saved", args=[saved.key]))
    if request.GET.get("response") == "url":
        response = JsonResponse(state_url, safe=False, status=201)
    else:
        response = JsonResponse(
            {
                "key": saved.key,
                "neuroglancer_state_url": state_url,
                "neuroglancer_url": ng.viewer_url(viewer.viewer_base_url(request), state_url),
                "size": saved.size,
            },
            status=201,
        )
    response["Location"] = state_url
    return _cors(response, methods)
