"""Offline sync (``POST /me/sync``): up to 100 queued creates, each handled as if it had been sent alone.

Every item runs in its own transaction under its own idempotency key (its ``client_id``) and the same
idempotency scope as its single endpoint: the same kind and the same resource (a return's ``request_id``
stands for the leave in the single endpoint's path), so an item sent alone before and again in a batch (or
twice in batches) is replayed, never created twice (docs/audit-and-privacy.md#offline-sync). As there, an
item's role is checked and its body validated before its key is looked up. Items run in the order given;
one failing item is reported with its error and never blocks the others. The HTTP layer supplies the
kinds (how to validate, create and serialise each), so results are byte-for-byte what the single endpoints return.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy.exc

from backend.errors import DomainError, register
from backend.services.core import idempotency
from backend.services.core.actors import Actor
from backend.services.identity import access

log = logging.getLogger(__name__)
MAX_ITEMS = 100

register("SYNC_BATCH_TOO_LARGE", 422, "每次最多同步 100 条记录", "A sync batch holds at most 100 items")
register("SYNC_KIND_UNKNOWN", 422, "不支持同步该类记录", "This kind of item cannot be synced")
register("CLIENT_ID_REQUIRED", 422, "离线记录须带客户端编号 client_id", "A queued item needs its client_id")
access.allow("sync.self", {"subject"})


@dataclass(frozen=True)
class SyncKind:
    """How one kind of queued create runs: its idempotency scope, its policy action, how its body is
    validated, and its create → (status, JSON body).

    With no scope the create is idempotent on the client id by itself (a check-in) and returns the
    ``idempotency.Outcome`` (status, body, replayed).
    """

    scope: str | None
    #: the policy action of the single endpoint (checked before the key is looked up)
    action: str
    #: load(body, item) → (validated body, the ids the single endpoint has in its path, e.g. {"request_id": 7});
    #: raises DomainError (400) for a malformed one, before the key is looked up
    load: Callable[[dict, dict], tuple[dict, dict]]
    #: create(actor, validated body, item) → (status, JSON body); ``item`` carries extras such as a return's request_id
    create: Callable[[Actor, dict, dict], tuple[int, object] | idempotency.Outcome]


@dataclass
class ItemResult:
    index: int
    kind: str | None
    client_id: str | None
    status: int
    replayed: bool = False
    body: object = None
    error: DomainError | None = None


def run_batch(actor: Actor, items: list, kinds: dict[str, SyncKind]) -> list[ItemResult]:
    """Run each item alone, in order; return one result per item."""
    access.require(actor, "sync.self")
    if len(items) > MAX_ITEMS:
        raise DomainError("SYNC_BATCH_TOO_LARGE", {"items": [f"at most {MAX_ITEMS}"]})
    return [_run_one(actor, i, item, kinds) for i, item in enumerate(items)]


def _run_one(actor: Actor, index: int, item: object, kinds: dict[str, SyncKind]) -> ItemResult:
    item = item if isinstance(item, dict) else {}
    kind, body = item.get("kind"), item.get("body")
    client_id = body.get("client_id") if isinstance(body, dict) else None
    result = ItemResult(index, kind, client_id if isinstance(client_id, str) else None, 0)
    try:
        spec = kinds.get(kind) if isinstance(kind, str) else None
        if spec is None:
            raise DomainError("SYNC_KIND_UNKNOWN", {"kind": ["one of: " + ", ".join(sorted(kinds))]})
        access.require(actor, spec.action)
        if not isinstance(body, dict) or client_id is None:
            raise DomainError("CLIENT_ID_REQUIRED", {"client_id": [f"a string of 1–{idempotency.MAX_KEY} characters"]})
        if not idempotency.valid_key(client_id):
            limit = idempotency.MAX_KEY
            raise DomainError("VALIDATION_FAILED", {"client_id": [f"a string of 1–{limit} printable characters"]})
        data, path_ids = spec.load(body, item)
        if spec.scope is None:
            outcome = spec.create(actor, data, item)
        else:
            outcome = idempotency.run_once(
                actor.user_id,
                spec.scope,
                client_id,
                idempotency.request_hash(body),
                lambda: spec.create(actor, data, item),
                resource=idempotency.resource_of(path_ids),
            )
        result.status, result.replayed, result.body = outcome.status, outcome.replayed, outcome.body
    except DomainError as exc:
        result.status, result.error = exc.status, exc
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError):
        log.exception("sync item failed: database unavailable", extra={"index": index, "kind": kind})
        result.status, result.error = 503, DomainError("SERVICE_UNAVAILABLE", retry_after=10)
    except Exception:  # a bug in one item must not lose the others: it is logged and reported as 500
        log.exception("sync item failed", extra={"index": index, "kind": kind})
        result.status, result.error = 500, DomainError("INTERNAL_ERROR")
    return result
