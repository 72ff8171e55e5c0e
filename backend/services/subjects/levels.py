"""The supervision level history: which level (严管 / 普管 / 宽管) held on which day.

Rules: docs/education-and-service.md#level-history.

Every path that sets ``Subject.supervision_level`` records it here in the same transaction: enrolment
(in force from the start date) and a profile change (in force from the day of the change, Asia/Shanghai).
A span holds from ``valid_from`` up to, not including, ``valid_to`` (None: in force now). A change closes
the open span and opens a new one; two changes on one day leave a span of no days, so the last one wins.

Reading: ``spans_for`` loads the spans of many subjects in one query and ``LevelHistory.on(day)`` answers
per day. A subject with no recorded span (rows written before the history existed and not backfilled,
test or demo rows) has its current level on every day; a day before the first span has the first span's
level (the level the subject started with).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.models import Subject, utcnow
from backend.models.levels import SupervisionLevelSpan

TZ = ZoneInfo("Asia/Shanghai")


def today() -> date:
    """The Asia/Shanghai day of now: the day a profile change takes effect."""
    return utcnow().astimezone(TZ).date()


@dataclass(frozen=True)
class Span:
    level: str
    valid_from: date
    valid_to: date | None
    id: int

    def holds(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class LevelHistory:
    """The level of one subject on any day (see the module's rules for days no span covers)."""

    def __init__(self, current: str, spans: Iterable[Span] = ()) -> None:
        self.current = current
        self.spans = sorted(spans, key=lambda x: (x.valid_from, x.id))

    def on(self, day: date) -> str:
        if not self.spans:
            return self.current
        holding = [x for x in self.spans if x.holds(day)]
        if holding:
            return max(holding, key=lambda x: x.id).level  # the latest recorded wins
        started = [x for x in self.spans if x.valid_from <= day]
        return (started[-1] if started else self.spans[0]).level


def spans_for(session: Session, subject_ids: list[int]) -> dict[int, list[Span]]:
    """The recorded spans of many subjects, one query."""
    out: dict[int, list[Span]] = defaultdict(list)
    if not subject_ids:
        return out
    rows = session.execute(
        select(
            SupervisionLevelSpan.subject_id,
            SupervisionLevelSpan.level,
            SupervisionLevelSpan.valid_from,
            SupervisionLevelSpan.valid_to,
            SupervisionLevelSpan.id,
        )
        .where(SupervisionLevelSpan.subject_id.in_(subject_ids))
        .order_by(SupervisionLevelSpan.subject_id, SupervisionLevelSpan.valid_from, SupervisionLevelSpan.id)
    )
    for sid, level, valid_from, valid_to, span_id in rows:
        out[sid].append(Span(level, valid_from, valid_to, span_id))
    return out


def histories(session: Session, subjects: list) -> dict[int, LevelHistory]:
    """``LevelHistory`` per subject (anything with ``id`` and ``supervision_level``), one query."""
    spans = spans_for(session, [x.id for x in subjects])
    return {x.id: LevelHistory(x.supervision_level, spans.get(x.id, [])) for x in subjects}


def history_of(session: Session, subject: Subject) -> LevelHistory:
    return histories(session, [subject])[subject.id]


def record_start(session: Session, subject: Subject, by: int | None, source: str = "enrol") -> SupervisionLevelSpan:
    """The level a subject starts with, in force from the start date (enrolment)."""
    span = SupervisionLevelSpan(
        subject_id=subject.id,
        level=subject.supervision_level,
        valid_from=subject.start_date,
        valid_to=None,
        changed_at=utcnow(),
        changed_by=by,
        source=source,
    )
    session.add(span)
    session.flush()
    return span


def record_change(
    session: Session,
    subject: Subject,
    old: str,
    new: str,
    *,
    by: int | None,
    reason: str | None = None,
    on: date | None = None,
    at: datetime | None = None,
) -> SupervisionLevelSpan:
    """``old`` → ``new`` from the day ``on`` (default today, Shanghai): close the open span, open the new one.

    A subject without a recorded span first gets one for ``old`` from the start date (``backfill``), so
    the days before the change keep the level they had. Call it after locking or loading the subject in
    the caller's transaction.
    """
    on = on or today()
    at = at or utcnow()
    has_any = session.scalar(
        select(SupervisionLevelSpan.id).where(SupervisionLevelSpan.subject_id == subject.id).limit(1)
    )
    if has_any is None:
        session.add(
            SupervisionLevelSpan(
                subject_id=subject.id,
                level=old,
                valid_from=min(subject.start_date, on),
                valid_to=None,
                changed_at=at,
                changed_by=None,
                source="backfill",
            )
        )
        session.flush()
    open_rows = list(
        session.scalars(
            select(SupervisionLevelSpan).where(
                SupervisionLevelSpan.subject_id == subject.id, SupervisionLevelSpan.valid_to.is_(None)
            )
        )
    )
    for row in open_rows:  # a span that had not started by ``on`` never held: it ends where it starts
        session.execute(
            update(SupervisionLevelSpan)
            .where(SupervisionLevelSpan.id == row.id)
            .values(valid_to=max(on, row.valid_from))
            .execution_options(synchronize_session=False)
        )
        session.expire(row)
    span = SupervisionLevelSpan(
        subject_id=subject.id,
        level=new,
        valid_from=on,
        valid_to=None,
        changed_at=at,
        changed_by=by,
        source="update",
        reason=reason,
    )
    session.add(span)
    session.flush()
    return span
