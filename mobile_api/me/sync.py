"""/me/sync: a phone's offline queue, up to 100 creates, each handled exactly as its single endpoint would."""

from __future__ import annotations

from collections.abc import Callable

from flask import g
from flask.views import MethodView
from marshmallow import Schema, ValidationError

from backend.errors import DomainError
from backend.services.activities import checkins, education, requests, returns, service, sync
from backend.services.core.actors import Actor
from backend.services.core.idempotency import Outcome
from mobile_api.common.records import EducationOut, RequestOut, ServiceIn, ServiceOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.errors import error_body
from mobile_api.http.fields import MAX_ID
from mobile_api.http.security import authorize
from mobile_api.me import education as me_education
from mobile_api.me import requests as me_requests
from mobile_api.me.schemas import CheckInIn, CheckInOut, EducationIn, RequestIn, SyncIn, SyncOut

blp = Blueprint("me_sync", __name__, url_prefix="/api/v1/me", description="离线同步 Offline sync")


def _load(schema_in: type[Schema], body: dict) -> dict:
    try:
        return schema_in().load(body)
    except ValidationError as exc:
        raise DomainError("VALIDATION_FAILED", exc.messages) from None


def _kind(
    scope: str,
    action: str,
    schema_in: type[Schema],
    schema_out: type[Schema],
    run: Callable,
    path: Callable[[dict], dict] = lambda item: {},
) -> sync.SyncKind:
    """A queued create of a single endpoint: its scope, action and path ids (``path(item)``) as there."""

    def load(body: dict, item: dict) -> tuple[dict, dict]:
        return _load(schema_in, body), path(item)

    def create(actor: Actor, data: dict, item: dict) -> tuple[int, object]:
        return 201, schema_out().dump(run(actor, data, item))

    return sync.SyncKind(scope, action, load, create)


def _load_checkin(body: dict, item: dict) -> tuple[dict, dict]:
    return _load(CheckInIn, body), {}


def _checkin(actor: Actor, data: dict, item: dict) -> Outcome:
    """A queued check-in: idempotent on its client_id by itself, exactly as /me/checkins."""
    view, replayed = checkins.submit(actor, data, offline=True)
    return Outcome(200 if replayed else 201, CheckInOut().dump(view), replayed)


def _request_id(item: dict) -> int:
    rid = item.get("request_id")
    if not isinstance(rid, int) or isinstance(rid, bool) or not 1 <= rid <= MAX_ID:
        raise DomainError("VALIDATION_FAILED", {"request_id": ["the leave's id is required for a return"]})
    return rid


#: every queued create rides the idempotency of its single endpoint (a scope with the ids of its path, or a
#: check-in's own client id) after the same role check and validation; queued check-ins are offline items
KINDS = {
    "checkin": sync.SyncKind(None, "checkin.self", _load_checkin, _checkin),
    "return": _kind(
        me_requests.RETURN_SCOPE,
        "request.self",
        CheckInIn,
        RequestOut,
        lambda a, d, i: returns.report_return(a, _request_id(i), d, offline=True),
        path=lambda i: {"request_id": _request_id(i)},  # /me/requests/{request_id}/return
    ),
    "request": _kind(me_requests.SCOPE, "request.self", RequestIn, RequestOut, lambda a, d, i: requests.create(a, d)),
    "education": _kind(
        me_education.EDUCATION_SCOPE,
        "education.self",
        EducationIn,
        EducationOut,
        lambda a, d, i: education.start_or_log(a, d),
    ),
    "service": _kind(
        me_education.SERVICE_SCOPE, "service.self", ServiceIn, ServiceOut, lambda a, d, i: service.create_own(a, d)
    ),
}


@blp.route("/sync")
class Sync(MethodView):
    @authorize("sync.self")
    @blp.arguments(SyncIn)
    @blp.response(200, SyncOut)
    def post(self, data):
        """Send up to 100 queued creates; each is idempotent on its client_id, with its own result, in order."""
        results = sync.run_batch(g.actor, data["items"], KINDS)
        return {
            "results": [
                {
                    "index": r.index,
                    "kind": r.kind,
                    "client_id": r.client_id,
                    "status": r.status,
                    "replayed": r.replayed,
                    "body": r.body,
                    "error": None
                    if r.error is None
                    else error_body(r.error.code, r.error.errors, r.error.detail, r.error.context),
                }
                for r in results
            ]
        }
