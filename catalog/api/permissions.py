"""Who may do what through the API: everybody reads, staff write."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class StaffWriteOrReadOnly(BasePermission):
    """Reads for anyone; create, update and delete only for authenticated staff (curators)."""

    message = "Only curators (staff accounts) may change the catalog."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
