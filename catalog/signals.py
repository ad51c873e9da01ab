"""Every committed change to a catalog record bumps the catalog version.

Cached reads (facet counts, built viewer states) are keyed by that version, so this one hook
keeps them right whichever path wrote: the loader, ingest, the API, or a curator in the admin.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from catalog.selectors import bump_catalog_version

# Bookkeeping that no cached read depends on.
NOT_CATALOG_CONTENT = {"SavedState", "IngestRun"}


def _catalog_changed(**kwargs: Any) -> None:
    """Bump now, so reads in this transaction see their own writes, and again on commit, so an
    entry another request cached from the not-yet-committed state is never used afterwards."""
    bump_catalog_version()
    transaction.on_commit(bump_catalog_version)


def connect() -> None:
    """Watch saves, deletes and many-to-many changes of every catalog model."""
    for model in apps.get_app_config("catalog").get_models():
        if model.__name__ in NOT_CATALOG_CONTENT:
            continue
        uid = f"catalog-version-{model._meta.label_lower}"
        post_save.connect(_catalog_changed, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_catalog_changed, sender=model, dispatch_uid=f"{uid}-delete")
        for field in model._meta.many_to_many:
            m2m_changed.connect(
                _catalog_changed, sender=field.remote_field.through, dispatch_uid=f"{uid}-{field.name}-m2m"
            )
