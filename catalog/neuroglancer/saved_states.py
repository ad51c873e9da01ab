"""Saved viewer states: immutable short links to states edited in the viewer (the package's one write)."""

from __future__ import annotations

import hashlib
import json
import secrets

from django.db import IntegrityError, transaction

from catalog.models import SavedState

SAVED_STATE_KEY_BYTES = 9
"""token_urlsafe(9) gives 12 characters: 72 random bits, short enough for a link."""


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
