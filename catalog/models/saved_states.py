"""Viewer states saved by users: short, immutable links to a Neuroglancer state."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class SavedState(models.Model):
    """A Neuroglancer state posted from the viewer, served back at ``/api/states/saved/<key>/``.

    Like a URL shortener: anyone may save, nothing is ever changed afterwards, and the same
    state saved twice gets the same key (``digest`` is the SHA-256 of the canonical JSON).
    """

    key = models.CharField(max_length=32, unique=True, help_text="Random URL-safe id (secrets.token_urlsafe).")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the canonical JSON.")
    state = models.JSONField()
    size = models.PositiveIntegerField(help_text="Bytes of the canonical JSON.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(key=""), name="savedstate_key_not_blank"),
            models.CheckConstraint(condition=Q(size__gt=0), name="savedstate_size_positive"),
        ]

    def __str__(self) -> str:
        return self.key
