"""Throttling of anonymous API traffic."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle


class AnonymousRateThrottle(AnonRateThrottle):
    """Anonymous clients get ``settings.API_ANON_RATE`` requests; read at request time so tests
    and the benchmark can change it with ``override_settings``."""

    def get_rate(self) -> str | None:
        return settings.API_ANON_RATE
