"""The one error type of the catalog: what went wrong, where, and the HTTP status it deserves.

Services, the Neuroglancer recipe and the request parsers raise ``CatalogError`` (or a subclass
that only sets a default status and code); ``catalog.api.errors`` turns any of them into the
API's JSON envelope in one place, and management commands print ``str(error)``. Pure Python,
so the state recipe can raise it without importing Django.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

Problem = dict[str, str]
"""One ``{"field": ..., "message": ...}``; ``field`` is "" when the problem is not about one field."""


class CatalogError(Exception):
    """A request the catalog refuses; ``errors`` lists each problem with the field it is about."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, detail: str, errors: Iterable[Problem] = (), *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[Problem] = [dict(problem) for problem in errors]
        if status is not None:
            self.status = status  # type: ignore[misc]

    @classmethod
    def on(cls, field: str, message: str, **kwargs: int) -> CatalogError:
        """An error about one field, its message doubling as the detail."""
        return cls(message, [{"field": field, "message": message}], **kwargs)

    @classmethod
    def from_problems(cls, errors: Iterable[Problem], **kwargs: int) -> CatalogError:
        """Several problems; the detail joins them as ``field: message``."""
        problems = [dict(problem) for problem in errors]
        detail = "; ".join(f"{p['field']}: {p['message']}" if p.get("field") else p["message"] for p in problems)
        return cls(detail or "The request is invalid.", problems, **kwargs)

    def __str__(self) -> str:
        return self.detail


class InvalidRequestError(CatalogError):
    """A parameter or payload is wrong (400)."""


class NotFoundError(CatalogError):
    """The record named does not exist (404)."""

    status = 404
    code = "not_found"


class ConflictError(CatalogError):
    """The record exists but cannot serve this request as it stands (409): a volume that
    Neuroglancer cannot stream, a state with nothing to show."""

    status = 409
    code = "conflict"


class ServiceUnavailableError(CatalogError):
    """A service the request needs (the task broker) is down; try again later (503)."""

    status = 503
    code = "service_unavailable"
