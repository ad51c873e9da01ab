"""A client cannot choose its own address: X-Forwarded-For counts only as far as the proxies named
by ``TRUSTED_PROXY_COUNT`` appended to it (default 0: not at all), for the API throttle and the
saved-state limit alike."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from catalog.api.throttling import client_address

pytestmark = pytest.mark.django_db

STATE = {
    "dimensions": {"x": [4e-09, "m"], "y": [4e-09, "m"], "z": [4e-09, "m"]},
    "layers": [{"type": "image", "source": "zarr://s3://bucket/em.zarr", "name": "em"}],
    "layout": "xy",
}


def forged(n: int) -> str:
    return f"198.51.{n // 250}.{n % 250 + 1}"


def test_the_default_trusts_no_proxy(settings: Any) -> None:
    assert settings.TRUSTED_PROXY_COUNT == 0
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0


def test_forged_forwarded_addresses_do_not_lift_the_api_throttle(settings: Any) -> None:
    settings.API_ANON_RATE = "5/minute"
    client = Client(REMOTE_ADDR="203.0.113.7")
    codes = [client.get("/api/organisms/", HTTP_X_FORWARDED_FOR=forged(n)).status_code for n in range(20)]

    assert codes == [200] * 5 + [429] * 15


def test_forged_forwarded_addresses_do_not_lift_the_saved_state_limit(settings: Any) -> None:
    settings.NEUROGLANCER_SAVE_RATE = "3/minute"
    client = Client(REMOTE_ADDR="203.0.113.7")
    codes = [
        client.post(
            "/api/states/saved/",
            data={**STATE, "title": str(n)},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=forged(n),
        ).status_code
        for n in range(6)
    ]

    assert codes == [201] * 3 + [429] * 3


def test_behind_one_trusted_proxy_each_client_is_counted_by_the_address_the_proxy_saw(settings: Any) -> None:
    """The proxy appends the address it saw; what the client put in front is ignored."""
    settings.API_ANON_RATE = "2/minute"
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = Client(REMOTE_ADDR="10.0.0.2")

    def from_client(real: str, claimed: str) -> int:
        return proxy.get("/api/organisms/", HTTP_X_FORWARDED_FOR=f"{claimed}, {real}").status_code

    assert [from_client("203.0.113.7", forged(n)) for n in range(4)] == [200, 200, 429, 429]
    assert [from_client("203.0.113.8", forged(n)) for n in range(3)] == [200, 200, 429], "another client"


@pytest.mark.parametrize(
    ("proxies", "header", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),
        (0, "", "10.0.0.2"),
        (1, "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "", "10.0.0.2"),
        (2, "198.51.100.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
    ],
)
def test_client_address(settings: Any, proxies: int, header: str, expected: str) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=header)

    assert client_address(request) == expected
