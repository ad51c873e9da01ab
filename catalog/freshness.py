"""The catalog's freshness, owned here and nowhere else: its version, the caches keyed by it,
and the one hook that keeps derived data and caches right after every write.

- **Version.** One database row (``CatalogVersion``) names the catalog's current state, so every
  process sees a change at once, whatever cache it has (a per-process memory cache included).
  It is read once per request (``CatalogVersionMiddleware``) and once per call elsewhere.
- **Versioned cache.** ``cache_get``/``cache_set``/``cached`` store reads under
  ``<namespace>:<version>:<digest>``; a new version makes every old entry unreachable, so no
  entry outlives its data. Answers to query strings expire sooner than per-record ones. Every
  use of the shared cache (the throttles too) goes through ``cache_call``: a cache that fails
  (Redis down) is a miss, never an error, and its outage is logged once.
- **Change hook.** Model signals note which datasets each write touches; when the transaction
  commits, ONE callback recomputes their derived rows (``catalog.indexing``: annotated classes,
  search texts, viewer problems) and bumps the version once. The loader, ingest, the API and the
  admin are all covered without calling anything. While a transaction holds uncommitted catalog
  changes, its own reads bypass the cache, so they see their own writes and cache nothing.

A GET never writes: nothing here runs on a read path except reading the version.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from catalog import indexing
from catalog.models import (
    BenchmarkResult,
    CatalogVersion,
    CellType,
    ConversionPart,
    ConversionRun,
    ConversionTarget,
    Crop,
    CropContent,
    CuratedView,
    CuratedViewLayer,
    CutoutRun,
    Dataset,
    DatasetDOI,
    IngestRun,
    LabelClass,
    Mesh,
    Organism,
    SavedState,
    SegmentLabel,
    Tissue,
    Treatment,
    Volume,
    VolumeChannel,
    VolumeStatistics,
)
from catalog.models.derived import DERIVED_MODELS

logger = logging.getLogger(__name__)
T = TypeVar("T")
MISSING: Any = object()
"""What ``cache_get`` answers when nothing usable is cached."""

DERIVED_REVISION = 3
"""Raise when what ``catalog.indexing`` derives changes: ``migrate`` then rebuilds every row."""

# Bookkeeping and derived rows: writing them changes no cached read.
UNTRACKED = (
    *DERIVED_MODELS,
    SavedState,
    IngestRun,
    ConversionRun,
    ConversionTarget,
    ConversionPart,
    CutoutRun,
)
# Records that belong to one dataset, by the attribute naming it.
DATASET_OWNED = (Volume, Crop, CuratedView, BenchmarkResult, DatasetDOI)
VOLUME_OWNED = (VolumeChannel, SegmentLabel, Mesh, VolumeStatistics)
# Vocabulary whose names enter the search texts of the datasets that use them.
VOCABULARY_LINKS = {Organism: "organism", Tissue: "tissues", CellType: "cell_types", Treatment: "treatments"}


# Version ------------------------------------------------------------------------------------------


@dataclass
class _RequestState:
    version: str | None = None
    hits: int = 0
    misses: int = 0


_request: ContextVar[_RequestState | None] = ContextVar("catalog_request", default=None)


def catalog_version() -> str:
    """The current catalog version (read once per request, from the database)."""
    state = _request.get()
    if state is not None and state.version is not None:
        return state.version
    value = CatalogVersion.objects.filter(pk=CatalogVersion.SINGLETON_ID).values_list("value", flat=True).first()
    version = str(value or 0)
    if state is not None:
        state.version = version
    return version


def bump_catalog_version() -> str:
    """Give the catalog a new version: every cached read of the old one is unreachable.

    A fresh unique value, never a counter, so a rolled-back version can never return.
    """
    value, now = time.time_ns(), timezone.now()
    singleton = CatalogVersion.SINGLETON_ID
    if not CatalogVersion.objects.filter(pk=singleton).update(value=value, changed_at=now):
        CatalogVersion.objects.update_or_create(pk=singleton, defaults={"value": value, "changed_at": now})
    state = _request.get()
    if state is not None:
        state.version = str(value)
    return str(value)


class CatalogVersionMiddleware:
    """Reads the catalog version at most once per request and counts the request's cache hits."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(_RequestState())
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def request_cache_counts() -> tuple[int, int]:
    """Hits and misses of the versioned cache in the current request (the benchmark reports them)."""
    state = _request.get()
    return (state.hits, state.misses) if state is not None else (0, 0)


# Versioned cache ----------------------------------------------------------------------------------


_cache_failed_at: float | None = None
"""When (``time.monotonic()``) the cache last failed, None while it works."""


def _key(namespace: str, identity: str) -> str:
    return f"{namespace}:{catalog_version()}:{hashlib.sha256(identity.encode()).hexdigest()}"


def cache_call(operation: Callable[[], T], fallback: T) -> T:
    """Run one operation on the shared cache; when the cache is unreachable answer ``fallback``.

    The cache is an optimisation, never a dependency: every caller (the versioned cache, the
    throttles) goes through here. An outage is logged once, when it starts, and once when it
    ends. After a failure the cache is left alone for ``CACHE_RETRY_SECONDS``, so a Redis that
    hangs instead of refusing costs one connect timeout per process per interval, not one per
    operation; the first operation after the interval tries again, so service resumes as soon
    as Redis answers.
    """
    global _cache_failed_at
    failed_at = _cache_failed_at
    if failed_at is not None and time.monotonic() - failed_at < settings.CACHE_RETRY_SECONDS:
        return fallback
    try:
        result = operation()
    except Exception as error:  # any backend error (refused, timeout, reset): the cache is optional
        if failed_at is None:
            logger.error("Cache unavailable, serving from the database until it answers again: %s", error)
        _cache_failed_at = time.monotonic()
        return fallback
    if failed_at is not None:
        logger.warning("Cache available again.")
        _cache_failed_at = None
    return result


def cache_available() -> bool:
    """False while the cache is known to be failing (until its next successful operation)."""
    return _cache_failed_at is None


def cache_get(namespace: str, identity: str) -> Any:
    """The value cached for ``identity`` under the current version, else ``MISSING``."""
    if cache_bypassed():
        return MISSING
    key = _key(namespace, identity)
    value = cache_call(lambda: cache.get(key, MISSING), MISSING)
    state = _request.get()
    if state is not None:
        if value is MISSING:
            state.misses += 1
        else:
            state.hits += 1
    return value


def cache_set(namespace: str, identity: str, value: Any, *, query: bool = False) -> None:
    """Cache ``value`` for ``identity`` under the current version (nothing while uncommitted).

    ``query``: the entry answers a query string (a search, a filter combination), which is
    mostly asked once; it lives ``CATALOG_QUERY_CACHE_SECONDS`` instead of
    ``CATALOG_CACHE_SECONDS``, so one-off requests cannot fill the cache.
    """
    if cache_bypassed():
        return
    key = _key(namespace, identity)
    seconds = settings.CATALOG_QUERY_CACHE_SECONDS if query else settings.CATALOG_CACHE_SECONDS
    cache_call(lambda: cache.set(key, value, timeout=seconds), None)


def cached(namespace: str, identity: str, compute: Callable[[], T], *, query: bool = False) -> T:
    """``compute()``, cached for ``identity`` until the catalog changes (see ``cache_set``)."""
    value = cache_get(namespace, identity)
    if value is MISSING:
        value = compute()
        cache_set(namespace, identity, value, query=query)
    return value


_memo: dict[str, dict[str, Any]] = {}
"""Indexes kept in this process, by name, with the catalog version they were built for."""


def _index_key(name: str) -> str:
    return f"index:{name}"


def stored_index(name: str) -> Any:
    """The index ``name`` the shared cache holds for the current catalog version, else ``MISSING``."""
    stored = cache_call(lambda: cache.get(_index_key(name)), None)
    if stored is not None and stored[0] == catalog_version():
        return stored[1]
    return MISSING


def versioned_index(name: str, build: Callable[[], T]) -> T:
    """The index ``name`` of the current catalog version: kept in the process for its version,
    else read from the shared cache, else built and stored there. The shared cache holds one
    copy per name, the latest version's, under one key: an index is large (the search index is
    15 MB at 10,000 datasets) and worthless once the catalog changes, so the copies of older
    versions must not wait for their expiry."""
    if cache_bypassed():
        return build()
    version = catalog_version()
    kept = _memo.get(name)
    if kept is not None and kept["version"] == version:
        return kept["index"]
    found = stored_index(name)
    if found is MISSING:
        found = build()
        seconds = settings.CATALOG_CACHE_SECONDS
        cache_call(lambda: cache.set(_index_key(name), (version, found), timeout=seconds), None)
    if version != "0":  # "0": no version row yet, which is no identity of the data
        _memo[name] = {"version": version, "index": found}
    return found


# Change hook --------------------------------------------------------------------------------------


catalog_changed = Signal()
"""Sent with ``version`` once a committed change has bumped the catalog version: receivers warm
what is keyed by it (``catalog.tasks.warm_indexes_after_change``), so that no reader pays for it."""


@dataclass(eq=False)
class PendingChanges:
    """What one transaction changed; called once when it commits."""

    dataset_ids: set[int] = field(default_factory=set)
    volume_ids: set[int] = field(default_factory=set)
    view_ids: set[int] = field(default_factory=set)
    vocabulary: dict[type[Model], set[int]] = field(default_factory=dict)
    everything: bool = False
    done: bool = False

    def __call__(self) -> None:
        """Recompute the derived rows of what changed, then bump the version, in one
        transaction; then tell ``catalog_changed``'s receivers."""
        self.done = True
        with transaction.atomic():
            try:
                indexing.refresh_derived(None if self.everything else self._affected_datasets())
            finally:
                version = bump_catalog_version()
        catalog_changed.send(sender=PendingChanges, version=version)

    def _affected_datasets(self) -> set[int]:
        ids = set(self.dataset_ids)
        if self.volume_ids:
            ids.update(Volume.objects.filter(pk__in=self.volume_ids).values_list("dataset_id", flat=True))
        if self.view_ids:
            ids.update(CuratedView.objects.filter(pk__in=self.view_ids).values_list("dataset_id", flat=True))
        for model, pks in self.vocabulary.items():
            link = VOCABULARY_LINKS[model]
            ids.update(Dataset.objects.filter(**{f"{link}__in": pks}).values_list("pk", flat=True))
        return ids


def _live_pending() -> PendingChanges | None:
    """The change set of the open transaction, if its commit callback is still registered."""
    pending = getattr(connection, "_catalog_pending", None)
    if pending is None or pending.done or not connection.in_atomic_block:
        return None
    if not any(entry[1] is pending for entry in connection.run_on_commit):
        return None  # rolled back with its savepoint
    return pending


def cache_bypassed() -> bool:
    """True while this connection's transaction holds uncommitted catalog changes."""
    return _live_pending() is not None


def note_changes(
    *,
    dataset_ids: Iterable[int] = (),
    volume_ids: Iterable[int] = (),
    view_ids: Iterable[int] = (),
    vocabulary: tuple[type[Model], Iterable[int]] | None = None,
    everything: bool = False,
) -> None:
    """Remember what a write touched; the derived rows and the version follow on commit.

    Outside a transaction the callback runs at once (Django's ``on_commit`` semantics).
    """
    pending = _live_pending()
    fresh = pending is None
    if pending is None:
        pending = PendingChanges()
        connection._catalog_pending = pending  # type: ignore[attr-defined]
    pending.dataset_ids.update(pk for pk in dataset_ids if pk is not None)
    pending.volume_ids.update(pk for pk in volume_ids if pk is not None)
    pending.view_ids.update(pk for pk in view_ids if pk is not None)
    if vocabulary is not None:
        model, pks = vocabulary
        pending.vocabulary.setdefault(model, set()).update(pks)
    pending.everything |= everything
    if fresh:
        transaction.on_commit(pending)


def _note_record(instance: Model) -> bool:
    """Note a record owned by a dataset, a volume or a view; False for anything else."""
    if isinstance(instance, Dataset):
        note_changes(dataset_ids=[instance.pk])
    elif isinstance(instance, DATASET_OWNED):
        note_changes(dataset_ids=[instance.dataset_id])  # type: ignore[attr-defined]
    elif isinstance(instance, VOLUME_OWNED):
        note_changes(volume_ids=[instance.volume_id])  # type: ignore[attr-defined]
    elif isinstance(instance, CuratedViewLayer):
        note_changes(view_ids=[instance.view_id])
    elif isinstance(instance, CropContent):
        note_changes(dataset_ids=[instance.crop.dataset_id])
    else:
        return False
    return True


def _before_save(sender: type[Model], instance: Model, update_fields: Any = None, **kwargs: Any) -> None:
    """A record moving to another dataset changes the one it leaves too."""
    if instance.pk is None or (update_fields is not None and not {"dataset", "dataset_id"} & set(update_fields)):
        return
    previous = type(instance).objects.filter(pk=instance.pk).values_list("dataset_id", flat=True).first()
    if previous is not None and previous != instance.dataset_id:  # type: ignore[attr-defined]
        note_changes(dataset_ids=[previous])


def _saved(sender: type[Model], instance: Model, created: bool = False, **kwargs: Any) -> None:
    if _note_record(instance):
        return
    if isinstance(instance, LabelClass):
        note_changes(everything=True)  # its names reach every dataset annotated with it or a member
    elif type(instance) in VOCABULARY_LINKS and not created:
        note_changes(vocabulary=(type(instance), [instance.pk]))
    else:
        note_changes()  # a new term, collections, publications, DOIs: no derived row, a new version


def _deleted(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    if _note_record(instance):
        return
    if isinstance(instance, LabelClass) or type(instance) in VOCABULARY_LINKS:
        note_changes(everything=True)  # the datasets that used the term are unlinked already
    else:
        note_changes()


def _m2m_changed(
    sender: type[Model], instance: Model, action: str, model: type[Model], pk_set: set[int] | None, **kwargs: Any
) -> None:
    if not action.startswith("post_"):
        return
    if isinstance(instance, LabelClass) and model is LabelClass:
        note_changes(everything=True)  # the class hierarchy itself
    elif isinstance(instance, Dataset):
        note_changes(dataset_ids=[instance.pk])
    elif model is Dataset:
        note_changes(dataset_ids=pk_set or ())
        if pk_set is None:  # a clear() from the other side: its datasets are unlinked already
            note_changes(everything=True)
    elif isinstance(instance, Crop | CuratedView):
        note_changes(dataset_ids=[instance.dataset_id])
    elif model is Crop:
        note_changes(dataset_ids=Crop.objects.filter(pk__in=pk_set or ()).values_list("dataset_id", flat=True))
        if pk_set is None:
            note_changes(everything=True)
    elif model is CuratedView:
        note_changes(view_ids=pk_set or ())
        if pk_set is None:
            note_changes(everything=True)
    else:
        note_changes()


def connect() -> None:
    """Watch saves, deletes and many-to-many changes of every catalog model."""
    for model in apps.get_app_config("catalog").get_models():
        if issubclass(model, UNTRACKED):
            continue
        uid = f"catalog-freshness-{model._meta.label_lower}"
        if issubclass(model, DATASET_OWNED):
            pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}-move")
        post_save.connect(_saved, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"{uid}-delete")
        for m2m in model._meta.many_to_many:
            m2m_changed.connect(_m2m_changed, sender=m2m.remote_field.through, dispatch_uid=f"{uid}-{m2m.name}-m2m")


def ensure_derived_current(**kwargs: Any) -> None:
    """After ``migrate``: rebuild every derived row when the recipe's revision changed (or was
    never applied), so an upgraded database never serves stale search texts or class rows."""
    current = CatalogVersion.objects.filter(pk=CatalogVersion.SINGLETON_ID).first()
    if current is not None and current.derived_revision == DERIVED_REVISION:
        return
    with transaction.atomic():
        indexing.refresh_derived(None)
        bump_catalog_version()
        CatalogVersion.objects.filter(pk=CatalogVersion.SINGLETON_ID).update(derived_revision=DERIVED_REVISION)
