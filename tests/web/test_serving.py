"""How the Flask app serves the H5 app's files (in process: no browser needed)."""

from __future__ import annotations

import dataclasses
import hashlib
import re

from mobile_api.web import WEB_DIR


def test_root_redirects_to_the_app(client):
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/app/")
    resp = client.get("/app")
    assert resp.status_code in (301, 308) and resp.headers["Location"].endswith("/app/")


def test_the_app_and_its_files_under_a_strict_csp(client):
    resp = client.get("/app/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "'unsafe-eval'" not in csp and "default-src 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Cache-Control"] == "no-cache"
    html = resp.get_data(as_text=True)
    # every script and stylesheet the page names is one of ours, by path, and is served
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith("/app/") for r in refs), refs
    for ref in refs:
        assert client.get(ref).status_code == 200, ref
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline script"
    js = client.get("/app/js/api.js")
    assert js.mimetype == "text/javascript" and js.headers["Content-Security-Policy"] == csp
    assert client.get("/app/sw.js").headers["Service-Worker-Allowed"] == "/app/"
    assert client.get("/app/manifest.webmanifest").mimetype == "application/manifest+json"


def test_nothing_outside_the_app_is_served(client):
    for path in ("/app/vendor/fetch.py", "/app/../pyproject.toml", "/app/%2e%2e/pyproject.toml", "/app/nope.js"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.get_json()["code"] == "NOT_FOUND"


def test_s3_endpoint_is_allowed_for_images_and_uploads_when_storage_is_s3(app, client):
    before = app.extensions["zhijiao.settings"]
    app.extensions["zhijiao.settings"] = dataclasses.replace(
        before, storage_backend="s3", s3_endpoint="https://oss.example.cn:9000/"
    )
    try:
        csp = client.get("/app/").headers["Content-Security-Policy"]
    finally:
        app.extensions["zhijiao.settings"] = before
    assert "img-src 'self' https://oss.example.cn:9000 " in csp
    assert "connect-src 'self' https://oss.example.cn:9000;" in csp
    assert "script-src 'self';" in csp


def test_no_app_route_in_the_openapi_document(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/app")]


def test_the_service_worker_caches_every_shell_file_there_is():
    sw = (WEB_DIR / "sw.js").read_text()
    listed = set(re.findall(r'"/app/([^"]*)"', sw.split("const SHELL", 1)[1].split("];", 1)[0]))
    own = {str(p.relative_to(WEB_DIR)) for p in WEB_DIR.rglob("*.js") if "vendor" not in p.parts and p.name != "sw.js"}
    assert own <= listed, own - listed
    for rel in listed - {""}:
        assert (WEB_DIR / rel).is_file(), rel


def test_vendored_files_match_their_checksums():
    """web/vendor/fetch.py wrote SHA256SUMS from the verified tarballs; every vendored file still matches it."""
    vendor = WEB_DIR / "vendor"
    lines = (vendor / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, rel = line.split("  ", 1)
        listed[rel] = digest
        assert hashlib.sha256((vendor / rel).read_bytes()).hexdigest() == digest, rel
    for package in ("vue", "vant", "echarts"):
        assert f"{package}/LICENSE" in listed
    on_disk = {p.relative_to(vendor).as_posix() for p in vendor.rglob("*") if p.is_file() and p.parent != vendor}
    assert on_disk == set(listed), on_disk ^ set(listed)
