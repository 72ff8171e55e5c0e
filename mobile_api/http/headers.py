"""Security headers on every response, with a Content-Security-Policy chosen by path prefix
(docs/audit-and-privacy.md#security-headers).

Every response (JSON, errors, files, metrics, /docs) says ``nosniff``, may not be framed, sends no referrer
and is served under a CSP: the API's is ``default-src 'none'`` (a JSON or photo response runs nothing). A
page that must run code gets its own policy in ``CSP_BY_PREFIX`` (the longest matching prefix wins), as
``/docs`` (Swagger UI from its local assets) does; a later app at ``/app/`` adds its line there. In a policy,
``{inline-scripts}`` becomes the SHA-256 sources of the HTML page's own inline ``<script>`` blocks, so a
page keeps its small inline start-up code without ``'unsafe-inline'``.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_NO_FRAMES = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: what a response may run or load when no prefix below matches: nothing
DEFAULT_CSP = f"default-src 'none'; {_NO_FRAMES}"
#: path prefix → its policy
CSP_BY_PREFIX: dict[str, str] = {
    # Swagger UI: its files from /docs/assets/, the spec from /openapi.json, the inline start-up script by
    # hash; its stylesheet puts icons in data: URLs and its components set inline styles
    "/docs": (
        "default-src 'none'; script-src 'self' {inline-scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; {_NO_FRAMES}"
    ),
    # the H5 app (mobile_api/web.py): scripts only from here, no inline script, no eval; Vant's icon font is a
    # data: URL and its components set styles; blob: shows a photo before it is sent (S3 origin added there)
    "/app/": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        f"font-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; {_NO_FRAMES}"
    ),
}
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def policy_for(path: str) -> str:
    """The CSP template of ``path``: the longest prefix of ``CSP_BY_PREFIX`` that matches, else the default."""
    hits = [p for p in CSP_BY_PREFIX if path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/")]
    best = max(hits, key=len, default=None)
    return CSP_BY_PREFIX[best] if best is not None else DEFAULT_CSP


def inline_script_hashes(html: str) -> list[str]:
    """The CSP sources ('sha256-…') of every inline ``<script>`` of ``html``, in page order."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def apply(resp: Response) -> Response:
    for name, value in HEADERS.items():
        resp.headers.setdefault(name, value)
    csp = policy_for(request.path)
    if "{inline-scripts}" in csp:
        hashes = []
        if resp.mimetype == "text/html" and not resp.is_streamed:
            hashes = inline_script_hashes(resp.get_data(as_text=True))
        csp = csp.replace("{inline-scripts}", " ".join(hashes)).replace("  ", " ")
    resp.headers.setdefault("Content-Security-Policy", csp)
    return resp


def install(app: Flask) -> None:
    """Add the headers to every response the app makes, errors and files included."""
    app.after_request(apply)
