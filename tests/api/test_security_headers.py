"""Security headers on every response (API, errors, /docs, files, metrics) and no server version."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from mobile_api.http import headers
from tests.factories import auth_header

COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _assert_common(resp) -> dict[str, list[str]]:
    for name, value in COMMON.items():
        assert resp.headers.get(name) == value, (resp.request.path, name)
    assert "Server" not in resp.headers
    csp = _directives(resp.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == ["'none'"]
    return csp


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/api/v1/meta/error-codes", 200),
        ("GET", "/api/v1/me", 401),
        ("GET", "/no/such/path", 404),
        ("DELETE", "/healthz", 405),
        ("POST", "/api/v1/auth/login", 400),
        ("GET", "/metrics", 200),
        ("GET", "/docs/assets/swagger-ui-bundle.js", 200),
    ],
)
def test_every_kind_of_response_carries_the_headers(client, method, path, status):
    resp = client.open(path, method=method, json={} if method == "POST" else None)
    assert resp.status_code == status
    csp = _assert_common(resp)
    if not path.startswith("/docs"):
        assert csp["default-src"] == ["'none'"] and "script-src" not in csp


def test_authenticated_json_and_file_responses_carry_the_headers(client, world):
    hdr = auth_header(client, "officerA")
    assert _assert_common(client.get("/api/v1/me", headers=hdr))["default-src"] == ["'none'"]
    served_file = client.get("/docs/assets/swagger-ui.css")  # send_from_directory, like every file we serve
    assert served_file.status_code == 200 and served_file.mimetype == "text/css"
    _assert_common(served_file)


def test_docs_policy_lets_swagger_ui_run_from_its_local_assets_only(client):
    resp = client.get("/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    csp = _assert_common(resp)
    page = resp.get_data(as_text=True)
    inline = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(inline) == 1 and "SwaggerUIBundle" in inline[0]
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode() + "'"
    assert csp["script-src"] == ["'self'", digest]  # the start-up script by hash; no unsafe-inline, no eval
    assert csp["default-src"] == ["'none'"] and csp["connect-src"] == ["'self'"]
    assert "data:" in csp["img-src"] and all(s in ("'self'", "data:") for s in csp["img-src"])
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):  # every file the page loads is our own
        assert src.startswith("/docs/assets/"), src
        assert client.get(src).status_code == 200
    assert '"validatorUrl": null' in page  # no badge fetched from swagger.io


def test_a_later_app_adds_its_own_policy_by_prefix(client, monkeypatch):
    monkeypatch.setitem(headers.CSP_BY_PREFIX, "/app/", "default-src 'self'; frame-ancestors 'none'")
    assert headers.policy_for("/app/index.html") == "default-src 'self'; frame-ancestors 'none'"
    assert headers.policy_for("/app") == "default-src 'self'; frame-ancestors 'none'"
    assert headers.policy_for("/application") == headers.DEFAULT_CSP
    assert headers.policy_for("/docs") == headers.CSP_BY_PREFIX["/docs"]
    resp = client.get("/app/index.html")  # no such page yet: even its 404 carries the app's policy
    assert resp.headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"


def test_inline_script_hashes_skip_external_scripts():
    page = '<script src="/x.js"></script><script>a()</script><SCRIPT type="text/javascript">b()</SCRIPT>'
    expected = ["'sha256-" + base64.b64encode(hashlib.sha256(s).digest()).decode() + "'" for s in (b"a()", b"b()")]
    assert headers.inline_script_hashes(page) == expected


@pytest.mark.slow
def test_gunicorn_names_no_server_software(clean, test_env, tmp_path):
    from tests.api.test_ops import http, served

    with served(test_env, tmp_path / "gunicorn.log", workers=1) as (base, _proc):
        for path in ("/healthz", "/docs", "/no/such/path"):
            _status, got, _body = http("GET", base + path)
            assert got.get("Server") == "zhijiao", got
            assert got["X-Content-Type-Options"] == "nosniff" and got["X-Frame-Options"] == "DENY"
