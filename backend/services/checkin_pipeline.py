"""The check-in create on PostgreSQL, pipelined: the same reads and writes as the generic path, in fewer round trips.

Check-ins are the subjects' app's daily write, and most of them arrive in the hour before a period's due
time (SPEC.md §3). On SQLite (and inside a caller's transaction, such as a leave's return report)
``checkins._create`` runs its statements one by one through SQLAlchemy. On PostgreSQL, as the outermost
transaction, it runs them on the session's own psycopg connection in pipeline mode:

1. one round trip: BEGIN and the one read (subject, retry, upload ownership, district), which also
   draws the new check-in's id from its sequence (a retry or refusal leaves a gap in the ids, as any
   rollback does);
2. one round trip: the check-in's insert, the photo's conditional attach, the outbox row of the deferred
   attachment checks (only when the photo's own checks are done; while they run, their verdict queues the
   work), then the audit chain's lock and its last link, each in a statement of its own (its own snapshot);
3. the audit rows, chained after that link (``audit.write_queued``), then COMMIT as usual.

The SQL mirrors the generic path's statements (``checkins._SUBJECT_AND_RETRY``, ``checkins._INSERT``,
``evidence._ATTACH``, ``outbox.add``); every check-in test runs on both backends, so each path is held to
the same answers. A database error is raised as SQLAlchemy's (a concurrent duplicate is its
IntegrityError), exactly as the generic path raises it.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Json
from sqlalchemy.orm import Session

from backend.db import pg_raw
from backend.models import utcnow
from backend.services import audit, evidence, outbox
from backend.services.actors import Actor

#: the generic path's one read, plus the new check-in's id
_READ = """
SELECT s.id, s.status, c.id,
       EXISTS (SELECT 1 FROM uploads u WHERE u.id = %(upload_id)s AND u.owner_id = %(owner_id)s),
       d.id, d.area,
       nextval(pg_get_serial_sequence('checkins', 'id'))
FROM subjects s
LEFT JOIN checkins c ON c.subject_id = s.id AND c.client_id = %(client_id)s
LEFT JOIN org_units o ON o.id = s.office_id
LEFT JOIN org_units d ON d.id = o.parent_id
WHERE s.id = %(subject_id)s
"""
_CHECKIN_COLUMNS = (
    "id", "subject_id", "client_id", "kind", "request_id", "upload_id", "latitude", "longitude", "accuracy_m",
    "captured_at", "received_at", "offline", "status", "inside_area", "distance_m", "area_basis",
)  # fmt: skip
_INSERT = (
    f"INSERT INTO checkins ({', '.join(_CHECKIN_COLUMNS)}) "  # noqa: S608 - column names, no input
    f"VALUES ({', '.join(f'%({c})s' for c in _CHECKIN_COLUMNS)})"
)
#: ``evidence._ATTACH``: the caller's own, unattached, attachable upload, and its row lock
_ATTACH = f"""
UPDATE uploads SET subject_id = %(to_subject)s, record_type = 'checkin', record_id = %(to_id)s,
                   attached_at = %(at)s, claim = %(with_claim)s
WHERE id = %(the_upload)s AND owner_id = %(the_owner)s AND (subject_id IS NULL OR subject_id = %(to_subject)s)
  AND record_type IS NULL AND status IN ({", ".join(f"'{s}'" for s in evidence.ATTACHABLE)})
RETURNING status
"""  # noqa: S608 - constants, no input
#: ``evidence.attach(defer=True)``'s outbox row: only for a photo attached just now whose checks are done
_QUEUE_CHECKS = """
INSERT INTO outbox (job, payload, status, attempts, request_id, created_at)
SELECT %(job)s, %(payload)s, %(status)s, %(attempts)s, %(request_id)s, %(created_at)s
FROM uploads
WHERE id = %(upload_id)s AND record_type = 'checkin' AND record_id = %(record_id)s AND status <> 'processing'
RETURNING id
"""


def usable(session: Session) -> bool:
    """Whether this create may take the pipelined path: PostgreSQL, and the transaction is the create's own."""
    return session.info.get("tx_depth") == 1 and session.get_bind().dialect.name == "postgresql"


def read(session: Session, actor: Actor, client_id: str, upload_id: int) -> tuple[Any, ...] | None:
    """The generic read's row (subject id, status, retry id, owns the upload, district id, area) + a new id."""
    params = {"subject_id": actor.subject_id or -1, "client_id": client_id}
    params |= {"upload_id": upload_id, "owner_id": actor.user_id}
    with pg_raw(session, pipeline=True) as raw:
        cur = raw.execute(_READ, params)
        return cur.fetchone()


def write(session: Session, actor: Actor, values: dict, claim: dict) -> None:
    """Insert the check-in ``values`` (with its id), attach its photo with ``claim``, queue the photo's
    checks, and write the audit rows (the attachment's, then the check-in's) chained under the lock."""
    checkin_id, upload_id, subject_id = values["id"], values["upload_id"], values["subject_id"]
    attach = {"to_subject": subject_id, "to_id": str(checkin_id), "at": utcnow(), "with_claim": Json(claim)}
    attach |= {"the_upload": upload_id, "the_owner": actor.user_id}
    row = outbox.row_values(evidence.EVALUATE_JOB, {"upload_id": upload_id})
    row |= {"payload": Json(row["payload"]), "upload_id": upload_id, "record_id": str(checkin_id)}
    with pg_raw(session, pipeline=True) as raw:
        raw.execute(_INSERT, values)
        attached = raw.execute(_ATTACH, attach)
        queued = raw.execute(_QUEUE_CHECKS, row)
        raw.execute(audit.PG_LOCK)
        last = raw.execute(audit.PG_LAST)
        status, queued_id, link = attached.fetchone(), queued.fetchone(), last.fetchone()
    if status is None:
        evidence.refuse_attach(session, actor, upload_id, subject_id, "checkin", str(checkin_id))
        raise RuntimeError("a new check-in's photo cannot be attached to it already")
    if queued_id is not None:
        outbox.push_after_commit(session, queued_id[0])
    evidence.record_attached(session, actor, upload_id, subject_id, "checkin", checkin_id)
    audit.record(
        session,
        "checkin.create",
        actor=actor,
        target_type="checkin",
        target_id=checkin_id,
        details={k: values[k] for k in ("kind", "offline", "inside_area", "status")},
    )
    audit.write_queued(session, (link[0], link[1]) if link else None)
