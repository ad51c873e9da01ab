"""Filtering for the API: the shared FilterSets, plus a refusal of query parameters nobody reads.

A malformed value is a 400 naming the parameter; a well-formed value that names no record
(``?organism=no-such-organism``) is a 404 naming it: the request is fine, the record is missing.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import api_settings

from catalog.errors import CatalogError, NotFoundError

# Parameters where an empty value has a meaning of its own (no search).
EMPTY_ALLOWED = frozenset({"q"})


def reject_unknown_parameters(request: Request, allowed: set[str]) -> None:
    """A misspelt parameter (``?organsim=``) or an empty value (``?has_crops=``) would otherwise
    silently return everything."""
    errors = {
        name: [f"Unknown query parameter; this endpoint reads: {', '.join(sorted(allowed))}."]
        for name in sorted(set(request.query_params) - allowed)
    }
    for name, values in request.query_params.lists():
        if name in allowed and name not in EMPTY_ALLOWED and any(value == "" for value in values):
            errors[name] = ["Empty value; leave the parameter out instead."]
    if errors:
        raise ValidationError(errors)


def format_parameter(view: Any) -> set[str]:
    """DRF's ``?format=`` renderer override, where the view keeps it (volumes use format as a filter)."""
    override = api_settings.URL_FORMAT_OVERRIDE
    negotiation = getattr(view, "content_negotiation_class", DefaultContentNegotiation)
    if not override or getattr(negotiation, "ignores_format_parameter", False):
        return set()
    return {override}


def filterset_error(filterset: django_filters.FilterSet) -> CatalogError | APIException:
    """What an invalid filterset answers: 404 naming them when a parameter names a record that does
    not exist (nothing can be answered about it, and rules that depend on it cannot be judged),
    else DRF's 400 with every parameter's errors."""
    missing: list[dict[str, str]] = []
    for name, errors in filterset.form.errors.as_data().items():
        if not isinstance(filterset.filters.get(name), django_filters.ModelMultipleChoiceFilter):
            continue
        for error in errors:
            if error.code == "invalid_choice":
                value = (error.params or {}).get("value", "")
                missing.append({"field": name, "message": f"No record named {value!r}."})
    return NotFoundError.from_problems(missing) if missing else ValidationError(filterset.errors)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend on list endpoints; unknown parameters are a 400 naming them."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        filterset = self.validated_filterset(request, queryset, view)
        return queryset if filterset is None else filterset.qs

    def validated_filterset(self, request: Request, queryset: QuerySet, view: Any) -> Any:
        """The view's FilterSet for this request, checked (a 400 naming what is wrong), or None
        when the view has none; its SQL queryset (``.qs``) is not built yet."""
        allowed = set(getattr(view, "extra_query_parameters", ())) | format_parameter(view)
        paginator = getattr(view, "paginator", None)
        if paginator is not None:
            allowed |= {paginator.page_query_param, paginator.page_size_query_param}
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            allowed |= set(filterset_class.base_filters)
        reject_unknown_parameters(request, allowed)
        filterset = self.get_filterset(request, queryset, view)
        if filterset is not None and not filterset.is_valid():
            raise filterset_error(filterset)
        return filterset


class FormatIsAFilterNegotiation(DefaultContentNegotiation):
    """Content negotiation by Accept header only, leaving ``?format=`` to a filter."""

    ignores_format_parameter = True
    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)
