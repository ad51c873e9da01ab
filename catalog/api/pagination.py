"""Page-number pagination with strict parameters: a bad ``page`` or ``page_size`` is a 400."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


def _positive_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"Must be a positive integer, got {raw!r}."]}) from None
    if value < 1:
        raise ValidationError({name: [f"Must be a positive integer, got {raw!r}."]})
    return value


class CatalogPagination(PageNumberPagination):
    """``page`` (1-based) and ``page_size`` (1..API_MAX_PAGE_SIZE, default API_PAGE_SIZE)."""

    page_size_query_param = "page_size"
    page_size_query_description = "Results per page (1 to 100, default 24)."
    page_query_description = "Page number, from 1. A page past the last is a 404."

    @property
    def page_size(self) -> int:  # type: ignore[override]
        return settings.API_PAGE_SIZE

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        size = _positive_int(request, self.page_size_query_param)
        if size is None:
            return self.page_size
        if size > self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"At most {self.max_page_size} results per page, got {size}."]}
            )
        return size

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list | None:
        _positive_int(request, self.page_query_param)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters

    def get_paginated_response_schema(self, schema: dict) -> dict:
        response = super().get_paginated_response_schema(schema)
        response["required"] = ["count", "results"]
        return response
