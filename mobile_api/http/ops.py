"""Operations endpoints: liveness, readiness, metrics, the error-code catalogue and the state machines."""

from __future__ import annotations

import ipaddress
import logging

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import text

from backend import runtime
from backend.db import db
from backend.errors import CATALOGUE, NotFound
from backend.redis_conn import get_redis
from backend.services.core.statemachine import MACHINES
from backend.storage import get_storage
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.errors import error_body
from mobile_api.http.metrics import metrics_response
from mobile_api.http.security import public

log = logging.getLogger("mobile_api.ops")
blp = Blueprint("ops", __name__, description="运维 Operations")
#: how long a load balancer should wait before asking /readyz again
RETRY_AFTER_S = 10


class ErrorCodeOut(Schema):
    code = fields.String()
    status = fields.Integer()
    message = fields.String()
    message_en = fields.String()


class StateMachineOut(Schema):
    name = fields.String(metadata={"description": "the machine, e.g. subject_request (a leave or other request)"})
    initial = fields.String(metadata={"description": "the state a new record starts in"})
    states = fields.List(fields.String())
    terminal = fields.List(fields.String(), metadata={"description": "states with no way out"})
    transitions = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "every state with the states it may move to ([] for a final state)"},
    )
    description = fields.String(metadata={"description": "the same in one line, as the status fields' schemas say it"})


class HealthOut(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok"]})


class ChecksOut(Schema):
    database = fields.String(required=True, metadata={"enum": ["ok", "down"]})
    redis = fields.String(required=True, metadata={"enum": ["ok", "down"]})
    storage = fields.String(required=True, metadata={"enum": ["ok", "down"]})


class ReadyOut(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok"]})
    checks = fields.Nested(ChecksOut, required=True)


class ReadyDownOut(Schema):
    """The error body of SERVICE_UNAVAILABLE, with each dependency's state beside it."""

    code = fields.String(required=True, metadata={"enum": ["SERVICE_UNAVAILABLE"]})
    message = fields.String(required=True)
    message_en = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    status = fields.String(required=True, metadata={"enum": ["unavailable"]})
    checks = fields.Nested(ChecksOut, required=True)


@blp.route("/healthz")
class Health(MethodView):
    @public
    @blp.response(200, HealthOut)
    def get(self):
        """Say the process is up."""
        return jsonify({"status": "ok"})


def _probe(name: str, fn) -> str | None:
    try:
        fn()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason goes to the log
        log.warning("readiness probe failed", extra={"dependency": name, "error": type(exc).__name__})
        return type(exc).__name__


def _db_ping() -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@blp.route("/readyz")
class Ready(MethodView):
    @public
    @blp.response(200, ReadyOut)
    @blp.alt_response(503, schema=ReadyDownOut, description="a dependency is down (Retry-After says when to ask again)")
    def get(self):
        """Check that the database, Redis and the photo store are reachable (503 with Retry-After if not)."""
        checks = {
            "database": _probe("database", _db_ping),
            "redis": _probe("redis", lambda: get_redis().ping()),
            "storage": _probe("storage", lambda: get_storage().check()),
        }
        body = {name: ("ok" if err is None else "down") for name, err in checks.items()}
        down = {name: [f"unreachable ({err})"] for name, err in checks.items() if err is not None}
        if down:
            resp = jsonify({**error_body("SERVICE_UNAVAILABLE", down), "status": "unavailable", "checks": body})
            resp.status_code = 503
            resp.headers["Retry-After"] = str(RETRY_AFTER_S)
            return resp
        return jsonify({"status": "ok", "checks": body})


_SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")


@blp.route("/docs/assets/<string:name>")
class SwaggerAssets(MethodView):
    @public
    def get(self, name):
        """Serve Swagger UI's own files from the installed package, so /docs needs no outside network."""
        from flask import abort, send_from_directory
        from swagger_ui_bundle import swagger_ui_path

        if name not in _SWAGGER_FILES:
            abort(404)
        return send_from_directory(str(swagger_ui_path), name, max_age=86400)


@blp.route("/metrics")
class Metrics(MethodView):
    @public
    @blp.doc(
        responses={
            "200": {
                "description": "the metrics in Prometheus' text format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self):
        """Prometheus metrics: request counts and latency, queue depth, outbox backlog (from METRICS_ALLOW only)."""
        if not metrics_allowed(request.remote_addr):
            raise NotFound()  # as if there were nothing here
        return metrics_response()


def metrics_allowed(addr: str | None) -> bool:
    """True if ``addr`` (the client, after ProxyFix) lies in one of the ``METRICS_ALLOW`` networks."""
    try:
        ip = ipaddress.ip_address(addr or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in runtime.settings().metrics_networks)


@blp.route("/api/v1/meta/error-codes")
class ErrorCodes(MethodView):
    @public
    @blp.response(200, ErrorCodeOut(many=True))
    def get(self):
        """List every error code with its HTTP status and Chinese and English messages."""
        return sorted(CATALOGUE.values(), key=lambda e: e.code)


@blp.route("/api/v1/meta/state-machines")
class StateMachines(MethodView):
    @public
    @blp.response(200, StateMachineOut(many=True))
    def get(self):
        """List every status field's state machine: its states and the transitions the code allows."""
        return [m.as_dict() for _name, m in sorted(MACHINES.items())]
