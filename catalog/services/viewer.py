"""Writes made on behalf of the viewer: recording why a volume has no layer, saving states."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from catalog.models import SavedState, Volume
from catalog.models.base import VolumeStatus
from catalog.neuroglancer import NotViewableError
from catalog.viewer import viewer_error

SAVED_STATE_KEY_BYTES = 9
"""token_urlsafe(9) gives 12 characters: 72 random bits, short enough for a link."""


@transaction.atomic
def record_viewer_problem(*, volume: Volume, error: NotViewableError) -> bool:
    """Note on the volume why it cannot be shown; broken metadata also marks it invalid.

    A problem with a field that already has a recorded error (the loader's, say) is not
    added again. Returns True when something was written. Idempotent, so state requests
    may call it.
    """
    entry = error.as_error()
    if not _needs_recording(volume, entry, error):
        return False
    locked = Volume.objects.select_for_update().get(pk=volume.pk)
    if not _needs_recording(locked, entry, error):
        return False
    if not _has_error_on(locked, entry["field"]):
        locked.validation_errors = [*(locked.validation_errors or []), entry]
    if error.invalid and locked.status == VolumeStatus.OK:
        locked.status = VolumeStatus.INVALID
    locked.save(update_fields=["validation_errors", "status", "updated_at"])
    volume.validation_errors, volume.status = locked.validation_errors, locked.status
    return True


def _has_error_on(volume: Volume, field: str) -> bool:
    return any(isinstance(e, dict) and e.get("field") == field for e in volume.validation_errors or [])


def _needs_recording(volume: Volume, entry: dict, error: NotViewableError) -> bool:
    """Checked on the caller's copy first, so a state request that has nothing new to record
    takes no row lock; then again on the locked row."""
    return not _has_error_on(volume, entry["field"]) or (error.invalid and volume.status == VolumeStatus.OK)


def record_viewer_problems(*, volumes: Iterable[Volume]) -> int:
    """Check volumes against the Neuroglancer recipe and record each one's reason, if any.

    For the loader and ingest to call after writing volumes, so a curator sees in the admin
    which volumes have no layer before anyone opens a state. Returns how many were updated.
    """
    updated = 0
    for volume in volumes:
        error = viewer_error(volume)
        if error is not None:
            updated += record_viewer_problem(volume=volume, error=error)
    return updated


def canonical_json(state: dict) -> bytes:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@transaction.atomic
def save_state(*, state: dict) -> SavedState:
    """Store a state under a new random key, or return the existing record of the same state."""
    body = canonical_json(state)
    digest = hashlib.sha256(body).hexdigest()
    existing = SavedState.objects.filter(digest=digest).first()
    if existing is not None:
        return existing
    for _ in range(5):
        try:
            with transaction.atomic():
                return SavedState.objects.create(
                    key=secrets.token_urlsafe(SAVED_STATE_KEY_BYTES), digest=digest, state=state, size=len(body)
                )
        except IntegrityError:
            existing = SavedState.objects.filter(digest=digest).first()
            if existing is not None:
                return existing
    raise RuntimeError("Could not find a free key for the saved state.")
