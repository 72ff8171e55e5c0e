"""The H5 app (在矫通 and the grid workers' app): the files of ``web/`` served at ``/app/``; ``/`` redirects there.

Plain static files, no build step: the app's own ES modules and the vendored browser builds of Vue, Vant and
ECharts (``web/vendor/fetch.py`` pins and verifies them). Not part of the API, so not in /openapi.json. The
Content-Security-Policy of ``/app/`` is in ``mobile_api/http/headers.py``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, redirect, request, send_from_directory

from mobile_api.http import headers
from mobile_api.http.security import public

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
#: files of web/ that are not the app's (the vendoring script)
PRIVATE = {"vendor/fetch.py"}
TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript"}

blp = Blueprint("web", __name__)


@blp.get("/")
@public
def root():
    return redirect("/app/", code=302)


@blp.get("/app/")  # /app itself is redirected here by Flask
@blp.get("/app/<path:path>")
@public
def app_file(path: str = "index.html"):
    if path in PRIVATE or not (WEB_DIR / path).is_file():
        abort(404)
    resp = send_from_directory(WEB_DIR, path, mimetype=TYPES.get(Path(path).suffix), max_age=0)
    # the service worker revalidates every shell file; the worker script itself is looked up on each visit
    resp.headers["Cache-Control"] = "no-cache"
    if path == "sw.js":
        resp.headers["Service-Worker-Allowed"] = "/app/"
    return resp


@blp.after_request
def _csp(resp: Response) -> Response:
    """/app/'s policy from the headers table, plus the S3 endpoint for photos and presigned POSTs when storage is S3."""
    settings = current_app.extensions["zhijiao.settings"]
    policy = headers.policy_for(request.path)
    if settings.storage_backend == "s3" and settings.s3_endpoint:
        parts = urlsplit(settings.s3_endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        policy = policy.replace("img-src 'self'", f"img-src 'self' {origin}")
        policy = policy.replace("connect-src 'self'", f"connect-src 'self' {origin}")
    resp.headers["Content-Security-Policy"] = policy
    return resp
