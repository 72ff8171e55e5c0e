"""The check-in create on PostgreSQL: the generic path's reads and writes in three statements.

Check-ins are the subjects' app's daily write, and most of them arrive in the hour before a period's due
time (docs/checkins.md#check-in-time). On SQLite, and inside a caller's transaction (a leave's return report),
``checkins._create`` runs its statements one by one through SQLAlchemy. On PostgreSQL, when the create is
its own transaction, it runs three statements on the session's own psycopg connection instead. On this
workplace's machines every round trip and every ORM execute costs the server a tenth of a millisecond
of CPU, as much as the statement itself:

1. the one read (subject, retry, upload ownership, district), which also draws the new check-in's id
   from its sequence (a retry or refusal leaves a gap in the ids, as any rollback does);
2. one statement for the three writes: the check-in's insert, the photo's conditional attach, and the
   outbox row of the photo's deferred attachment checks;
3. at commit, as for every transaction: the audit chain's lock and last link in one round trip, then its
   rows (the attachment's, then the check-in's).

The SQL mirrors the generic path's statements (``checkins._SUBJECT_AND_RETRY``, ``checkins._INSERT``,
``attachments._ATTACH``, ``outbox.add``), and every check-in test runs on both backends, so both paths are
held to the same answers. A database error is raised as SQLAlchemy's (a concurrent duplicate is its
IntegrityError), as the generic path raises it.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Json
from sqlalchemy.orm import Session

from backend.db import is_pg, pg_raw
from backend.models import utcnow
from backend.services.core import audit, outbox
from backend.services.core.actors import Actor
from backend.services.evidence import attachments

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
#: the generic path's three writes as one statement: the check-in (its id drawn by the read), the photo's
#: conditional attach (``attachments._ATTACH``: the caller's own, unattached, attachable upload, and its row
#: lock) and the outbox row of the deferred attachment checks (``attachments.attach(defer=True)``: only when
#: the photo's own checks are done; while they run, their verdict queues the work).
#: Order: PostgreSQL runs the parts of one statement in no promised order, except that a part reading
#: another's output runs after it. The attach reads the insert's (a one-time condition, checked before it
#: looks for the photo's row), so, as on the generic path, the check-in's unique key is taken before the
#: photo's row lock: a duplicate waits on the key and fails there, and a check-in and a leave's return
#: report racing with one client id and photo cannot take the two locks in opposite orders (a deadlock).
_WRITE = f"""
WITH checkin AS (
    INSERT INTO checkins ({", ".join(_CHECKIN_COLUMNS)})
    VALUES ({", ".join(f"%({c})s" for c in _CHECKIN_COLUMNS)})
    RETURNING id
), attached AS (
    UPDATE uploads SET subject_id = %(subject_id)s, record_type = 'checkin', record_id = %(record_id)s,
                       attached_at = %(attached_at)s, claim = %(claim)s
    WHERE id = %(upload_id)s AND owner_id = %(owner_id)s AND (subject_id IS NULL OR subject_id = %(subject_id)s)
      AND record_type IS NULL AND status IN ({", ".join(f"'{s}'" for s in attachments.ATTACHABLE)})
      AND EXISTS (SELECT FROM checkin)
    RETURNING status
), queued AS (
    INSERT INTO outbox (job, payload, status, attempts, request_id, created_at)
    SELECT %(job)s, %(payload)s, 'pending', 0, %(outbox_request_id)s, %(outbox_created_at)s
    FROM attached WHERE status <> 'processing'
    RETURNING id
)
SELECT (SELECT status FROM attached), (SELECT id FROM queued)
"""  # noqa: S608 - column names and constants, no input


def usable(session: Session) -> bool:
    """Whether this create may take this path: PostgreSQL, and the transaction is the create's own."""
    return session.info.get("tx_depth") == 1 and is_pg(session)


def read(session: Session, params: dict) -> tuple[Any, ...] | None:
    """The generic read's row (subject id, status, retry id, owns the upload, district id, area) + a new id."""
    with pg_raw(session) as raw:
        cur = raw.execute(_READ, params)
        return cur.fetchone()


def write(session: Session, actor: Actor, values: dict, claim: dict) -> None:
    """Insert the check-in ``values`` (with its id), attach its photo with ``claim`` and queue the photo's
    checks, in one statement; queue the audit rows (the attachment's, then the check-in's) for the commit."""
    checkin_id, upload_id, subject_id = values["id"], values["upload_id"], values["subject_id"]
    queued = outbox.row_values(attachments.EVALUATE_JOB, {"upload_id": upload_id})
    params = values | {"record_id": str(checkin_id), "attached_at": utcnow(), "claim": Json(claim)}
    params |= {"owner_id": actor.user_id, "job": queued["job"], "payload": Json(queued["payload"])}
    params |= {"outbox_request_id": queued["request_id"], "outbox_created_at": queued["created_at"]}
    with pg_raw(session) as raw:
        status, queued_id = raw.execute(_WRITE, params).fetchone()
    if status is None:
        attachments.refuse_attach(session, actor, upload_id, subject_id, "checkin", str(checkin_id))
        raise RuntimeError("a new check-in's photo cannot be attached to it already")
    if queued_id is not None:
        outbox.push_after_commit(session, queued_id)
    attachments.record_attached(session, actor, upload_id, subject_id, "checkin", checkin_id)
    audit.record(
        session,
        "checkin.create",
        actor=actor,
        target_type="checkin",
        target_id=checkin_id,
        details={k: values[k] for k in ("kind", "offline", "inside_area", "status")},
    )
