"""Rule-set publication and the recomputes that follow it; full recompute and verification for the CLI."""

from __future__ import annotations

import hashlib
import json
import logging

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.db import db
from backend.models import Subject, utcnow
from backend.models.scoring import RuleSet, SubjectScore
from backend.services.core import audit, outbox
from backend.services.core.actors import Actor
from backend.services.core.handlers import handler
from backend.services.identity import access
from backend.services.scoring import bulk, rules
from backend.services.scoring.sql import is_pg

log = logging.getLogger(__name__)
CHUNK = 5000
access.allow("scoring.rules", {"admin"})


def publish(actor: Actor, data: dict, note: str | None) -> RuleSet:
    """Validate and publish a new rule-set version; every score is recomputed under it in the background.

    Events already recorded keep the version they were made under; new events use the new one.
    """
    access.require(actor, "scoring.rules")
    normalised = rules.validate(data)
    with db.tx() as s:
        previous = rules.current(s).version
        total = (s.scalar(select(func.count()).select_from(Subject)) or 0) - (
            s.scalar(select(func.count()).select_from(SubjectScore).where(SubjectScore.frozen.is_(True))) or 0
        )  # released subjects keep their frozen score
        rs = RuleSet(
            version=previous + 1,
            data=normalised,
            note=note,
            published_by=actor.user_id,
            recompute_status="pending",
            recompute_total=total,
        )
        s.add(rs)
        s.flush()
        s.execute(
            update(RuleSet)
            .where(RuleSet.version < rs.version, RuleSet.recompute_status.in_(("pending", "running")))
            .values(recompute_status="superseded")
        )
        digest = hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()
        audit.record(
            s,
            "rule_set.publish",
            actor=actor,
            target_type="rule_set",
            target_id=rs.version,
            details={"note": note, "previous": previous, "sha256": digest},
        )
        outbox.add(s, "score_recompute", {"version": rs.version})
    return rs


@handler("score_recompute")
def recompute_for_version(session: Session, payload: dict) -> None:
    """Outbox job: recompute every score under a published version, in chunks with visible progress."""
    run(payload["version"], outer=session)


def run(version: int, outer: Session | None = None) -> dict:
    """Recompute all scores under ``version`` unless a newer version superseded it; idempotent.

    On PostgreSQL each chunk of subjects commits on its own (progress is visible, emits wait only for one
    chunk); on SQLite, whose write lock the calling job already holds, everything runs in ``outer``.
    """
    if outer is not None and not is_pg(outer):
        return _run_in(outer, version, commit=False)
    session = db.new_session(write=True)
    try:
        return _run_in(session, version, commit=True)
    finally:
        session.close()


def _run_in(s: Session, version: int, *, commit: bool) -> dict:
    rs = s.get(RuleSet, version)
    if rs is None or rs.recompute_status in ("done", "superseded"):
        return {"status": rs.recompute_status if rs else "missing"}
    lo, hi = s.execute(select(func.min(Subject.id), func.max(Subject.id))).one()
    rs.recompute_status, rs.recompute_done = "running", 0
    _commit(s, commit)
    done = changed = 0
    start = lo or 0
    while lo is not None and start <= hi:
        end = start + CHUNK - 1
        if s.scalar(select(func.max(RuleSet.version))) != version:
            s.execute(update(RuleSet).where(RuleSet.version == version).values(recompute_status="superseded"))
            _commit(s, commit)
            return {"status": "superseded", "subjects": done, "changed": changed}
        ruleset = rules.by_version(s, version)
        res = bulk.recompute(s, ruleset, id_range=(start, end), cause="rule_version", ref=f"rule_set:{version}")
        done, changed = done + res["subjects"], changed + res["changed"]
        s.execute(update(RuleSet).where(RuleSet.version == version).values(recompute_done=done))
        _commit(s, commit)
        start = end + 1
    s.execute(
        update(RuleSet)
        .where(RuleSet.version == version)
        .values(recompute_status="done", recompute_done=done, recompute_finished_at=utcnow())
    )
    audit.record_bulk(
        s, "score.recompute", [], counts={"subjects": done, "changed": changed}, details={"rule_version": version}
    )
    _commit(s, commit)
    return {"status": "done", "subjects": done, "changed": changed}


def _commit(s: Session, commit: bool) -> None:
    if commit:
        s.commit()


def recompute_all(actor: Actor | None = None) -> dict:
    """Recompute every score from the ledger in one transaction (CLI); one audit row."""
    with db.tx() as s:
        ruleset = rules.current(s)
        res = bulk.recompute(s, ruleset, cause="recompute")
        audit.record_bulk(s, "score.recompute", [], counts=res, details={"rule_version": ruleset.version})
    return res


def verify() -> list[dict]:
    """Every subject whose stored score differs from a recompute from the ledger (read only)."""
    with db.tx() as s:
        return bulk.differences(s, rules.current(s))
