"""Behind TRUSTED_PROXIES reverse proxies the client's address counts (rate limits, throttle); /metrics
answers only METRICS_ALLOW networks."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from backend import runtime
from backend.config import ConfigError, load_settings

LOGIN = "/api/v1/auth/login"
PROXY = "10.0.0.2"


@pytest.fixture
def app_with(monkeypatch, settings, clean):
    """A second app instance under changed settings (restored afterwards)."""

    def make(**changes):
        from mobile_api import create_app

        changed = dataclasses.replace(settings, **changes)
        monkeypatch.setattr(runtime, "_settings", changed)
        return create_app(changed).test_client()

    return make


_names = itertools.count()


def _login(client, client_addr: str | None, peer: str = PROXY):
    """A wrong login under a new username each time: only the per-address limit can answer."""
    headers = {"X-Forwarded-For": client_addr} if client_addr else {}
    body = {"username": f"nobody{next(_names)}", "password": "x"}
    resp = client.post(LOGIN, json=body, headers=headers, environ_base={"REMOTE_ADDR": peer})
    return resp.get_json()["code"]


def test_behind_one_proxy_each_client_has_its_own_limit(app_with, world):
    client = app_with(trusted_proxies=1, rate_limit_login_per_minute=2, login_max_failures=100)
    limit = 2 * 3  # per address
    assert [_login(client, "203.0.113.7") for _ in range(limit + 1)] == ["INVALID_CREDENTIALS"] * limit + [
        "RATE_LIMITED"
    ]
    assert _login(client, "203.0.113.8") == "INVALID_CREDENTIALS"  # another client behind the same proxy
    # a client cannot pick its address: the proxy appends the real one, and only that hop is trusted
    assert _login(client, "198.51.100.1, 203.0.113.7") == "RATE_LIMITED"


def test_without_trusted_proxies_forwarded_headers_are_ignored(app_with, world):
    client = app_with(rate_limit_login_per_minute=2, login_max_failures=100)
    codes = [_login(client, f"203.0.113.{i}", peer="198.51.100.9") for i in range(7)]
    assert codes == ["INVALID_CREDENTIALS"] * 6 + ["RATE_LIMITED"]  # one address: the peer's


def test_metrics_only_from_allowed_networks(app_with):
    local = app_with()
    assert local.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    outside = local.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert outside.status_code == 404 and outside.get_json()["code"] == "NOT_FOUND"
    assert local.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert local.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200

    monitored = app_with(metrics_allow="172.31.250.0/24", trusted_proxies=1)
    assert monitored.get("/metrics", environ_base={"REMOTE_ADDR": "172.31.250.7"}).status_code == 200
    assert monitored.get("/metrics").status_code == 404  # loopback is no longer listed
    # through the proxy from outside, a forged X-Forwarded-For does not pass as the monitoring network
    forged = {"X-Forwarded-For": "172.31.250.7, 203.0.113.5"}
    assert monitored.get("/metrics", headers=forged, environ_base={"REMOTE_ADDR": PROXY}).status_code == 404
    assert monitored.get("/healthz", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 200


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"METRICS_ALLOW": "10.0.0.0/8,not-a-network"}, "METRICS_ALLOW"),
        ({"METRICS_ALLOW": "10.0.0.0/33"}, "METRICS_ALLOW"),
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "one"}, "TRUSTED_PROXIES"),
    ],
)
def test_malformed_proxy_and_metrics_settings_are_named(env, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        load_settings({"INSTANCE_DIR": str(tmp_path), **env})


def test_proxy_and_metrics_defaults(tmp_path):
    s = load_settings({"INSTANCE_DIR": str(tmp_path)})
    assert s.trusted_proxies == 0 and [str(n) for n in s.metrics_networks] == ["127.0.0.0/8", "::1/128"]
    s = load_settings({"INSTANCE_DIR": str(tmp_path), "TRUSTED_PROXIES": "0", "METRICS_ALLOW": " 10.1.0.0/16 , "})
    assert s.trusted_proxies == 0 and [str(n) for n in s.metrics_networks] == ["10.1.0.0/16"]
