"""The Flask app factory: binds settings, database, logging, metrics, errors and the blueprints.

It lives in ``mobile_api`` rather than ``backend`` because it imports the blueprints, and ``backend``
never imports ``mobile_api`` (the layer contracts in pyproject.toml).
"""

from __future__ import annotations

import logging

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import runtime
from backend.config import Settings, load_settings
from backend.db import db
from backend.errors import DomainError
from backend.logs import configure_logging
from mobile_api.admin import accounts as admin_accounts
from mobile_api.admin import keywords as admin_keywords
from mobile_api.admin import scoring as admin_scoring
from mobile_api.common import auth, me, uploads
from mobile_api.grid import reports as grid_reports
from mobile_api.grid import service as grid_service
from mobile_api.grid import subjects as grid_subjects
from mobile_api.http import errors, headers, ops
from mobile_api.http.contract import ContractApi
from mobile_api.http.exports import refuse_csv
from mobile_api.http.inputs import SafeJSONProvider, SafeRequest
from mobile_api.http.metrics import instrument
from mobile_api.me import checkins as me_checkins
from mobile_api.me import education as me_education
from mobile_api.me import requests as me_requests
from mobile_api.me import score as me_score
from mobile_api.me import sync as me_sync
from mobile_api.staff import activities as staff_activities
from mobile_api.staff import dashboard as staff_dashboard
from mobile_api.staff import faces as staff_faces
from mobile_api.staff import field_reports as staff_field_reports
from mobile_api.staff import inbox as staff_inbox
from mobile_api.staff import requests as staff_requests
from mobile_api.staff import scoring as staff_scoring
from mobile_api.staff import subjects as staff_subjects
from mobile_api.staff import suggestions as staff_suggestions
from mobile_api.staff import uploads as staff_uploads
from mobile_api.staff import warnings as staff_warnings
from mobile_api.web import blp as web_blp

log = logging.getLogger("mobile_api")
BLUEPRINTS = (
    # foundation
    ops.blp, auth.blp, me.blp, staff_subjects.blp, grid_subjects.blp, admin_accounts.blp,
    # credit score (issue 4)
    me_score.blp, staff_scoring.blp, admin_scoring.blp,
    # photo evidence (issue 3) and faces (issue 7)
    uploads.blp, uploads.files_blp, staff_uploads.blp, staff_faces.blp,
    # subject activities (issue 5)
    me_checkins.blp, me_requests.blp, me_education.blp, me_sync.blp, staff_requests.blp, staff_activities.blp,
    grid_service.blp,
    # field reports, warnings, suggestions, inbox, dashboard (issue 6)
    grid_reports.blp, staff_field_reports.blp, staff_warnings.blp, staff_suggestions.blp, staff_inbox.blp,
    staff_dashboard.blp, admin_keywords.blp,
)  # fmt: skip
#: bodies that are not JSON (a photo's bytes) are sent only to these endpoint suffixes
RAW_BODY_SUFFIXES = ("/content",)


def create_app(settings: Settings | None = None) -> Flask:
    settings = runtime.configure(settings or load_settings())
    configure_logging(settings.log_level)
    db.init(settings.database_url)
    import backend.registry  # noqa: F401 - outbox handlers

    app = Flask(__name__)
    app.request_class = SafeRequest  # bodies read through mobile_api/http/inputs.py's limits
    app.json = SafeJSONProvider(app)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_json_bytes,
        API_TITLE="智矫 zhijiao API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",  # served from the swagger-ui-bundle package: works offline
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},  # no badge fetched from swagger.io (the CSP forbids it)
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearer": []}],
        },
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False
    app.extensions["zhijiao.settings"] = settings
    errors.bound_path_ids(app)
    api = ContractApi(app)
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    app.register_blueprint(web_blp)  # the H5 app at /app/: not API, so not in /openapi.json
    errors.register(app)
    refuse_csv(app)
    instrument(app)
    headers.install(app)
    if settings.trusted_proxies:  # client address and scheme from the proxies' X-Forwarded-For/-Proto
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)

    @app.before_request
    def _request_context():
        rid = request.headers.get("X-Request-ID", "")
        if not (rid.isascii() and rid.replace("-", "").isalnum() and 8 <= len(rid) <= 64):
            rid = runtime.new_request_id()
        g.request_id = rid
        g._rid_token = runtime.request_id_var.set(rid)
        if request.method in ("POST", "PUT", "PATCH") and request.content_length:
            raw = request.path.endswith(RAW_BODY_SUFFIXES)
            if not raw and not request.is_json:
                raise DomainError("UNSUPPORTED_MEDIA_TYPE")

    @app.after_request
    def _tag(resp):
        resp.headers["X-Request-ID"] = getattr(g, "request_id", "")
        resp.headers.setdefault("Cache-Control", "no-store")
        actor = getattr(g, "actor", None)  # the path only: a query string may carry an ID number
        extra = {"method": request.method, "path": request.path, "status": resp.status_code}
        log.info("request", extra={**extra, "user_id": actor.user_id if actor else None})
        return resp

    @app.teardown_request
    def _cleanup(_exc):
        db.remove()
        token = g.pop("_rid_token", None)
        if token is not None:
            runtime.request_id_var.reset(token)

    return app
