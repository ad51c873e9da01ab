"""Throttling of anonymous traffic: who a client is, and counters that never fail a request.

A client is its address as the server saw it (``REMOTE_ADDR``). ``X-Forwarded-For`` is believed
only as far as ``TRUSTED_PROXY_COUNT`` proxies of our own appended to it: otherwise any client
could send a new address with every request and never be limited. The counters live in the
shared cache; when it is unreachable the limits are not enforced (requests are served, the
outage is logged once by ``catalog.freshness.cache_call``): a rate limit is not worth an outage.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.throttling import AnonRateThrottle

from catalog import freshness


def client_address(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or the entry of ``X-Forwarded-For`` that the
    outermost of ``TRUSTED_PROXY_COUNT`` trusted proxies appended (what the client sent itself
    sits to the left of it and is ignored)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded.strip():
        return remote
    entries = [entry.strip() for entry in forwarded.split(",")]
    return entries[-min(proxies, len(entries))] or remote


class _FailOpenCache:
    """The cache as the throttle uses it (get and set), through ``freshness.cache_call``: while
    the cache is down a get finds no history and a set stores nothing, so requests pass."""

    def get(self, key: str, default: Any = None) -> Any:
        return freshness.cache_call(lambda: cache.get(key, default), default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        freshness.cache_call(lambda: cache.set(key, value, timeout), None)


class AnonymousRateThrottle(AnonRateThrottle):
    """Anonymous clients get ``settings.API_ANON_RATE`` requests per client address; read at
    request time so tests and the benchmark can change it with ``override_settings``."""

    cache = _FailOpenCache()

    def get_rate(self) -> str | None:
        return settings.API_ANON_RATE

    def get_ident(self, request: Any) -> str:
        return client_address(request)


def over_limit(*, scope: str, request: HttpRequest, rate: str) -> bool:
    """Count one request of this client in a fixed window of ``rate`` ("<n>/second|minute|hour|day")
    and say whether it went over; False while the cache is down (logged once)."""
    count_text, _, period = rate.partition("/")
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}.get(period.strip(), 60)
    key = f"{scope}:{client_address(request)}"

    def count() -> int:
        if cache.add(key, 1, timeout=seconds):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=seconds)
            return 1

    return freshness.cache_call(count, 0) > int(count_text)
