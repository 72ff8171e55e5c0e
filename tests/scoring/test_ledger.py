"""The ledger: points, caps in Shanghai months, expiry at emission, idempotency (also concurrent), grades."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.db import db
from backend.errors import DomainError
from backend.models import Subject, Warning, utcnow
from backend.models.scoring import ScoreChange, ScoreEvent
from backend.services.scoring import effective_grade_of, emit_event, ledger
from backend.services.scoring.rules import current
from tests.support.scoring import at, events_of, from_ledger, new_subject, sql_differences, stored


def test_initial_score_follows_spec_defaults(world):
    pending = new_subject(world)
    based = new_subject(world, provincial=801, risk_level="low")
    # provisional base 0.4 × 700 = 280; management 70 (risk medium) + 5 × 85
    assert stored(pending.id)["total"] == 280 + 70 + 5 * 85
    assert stored(pending.id)["base_pending"] is True
    # round(0.4 × 801) = 320; risk low = 100
    assert stored(based.id)["public_base"] == 320
    assert stored(based.id)["total"] == 320 + 100 + 5 * 85


def test_points_and_monthly_cap_in_shanghai_months(world):
    p = new_subject(world)
    # 2026-03-31 16:30 UTC is already 1 April in Shanghai: a new month, a new cap
    times = [at(2026, 3, 1 + i, 2) for i in range(6)] + [at(2026, 3, 31, 16, 30)]
    granted = [emit_event(p, "CHECKIN_ONTIME", "checkin", i, t).event.points for i, t in enumerate(times)]
    assert granted == [1, 1, 1, 1, 1, 0, 1]
    capped = events_of(p.id)[5]
    assert (capped.requested_points, capped.points, capped.month) == (1, 0, "2026-03")
    assert events_of(p.id)[6].month == "2026-04"
    assert stored(p.id)["compliance"] == 85 + 6


def test_per_hour_rule_grants_whole_hours_and_carries_minutes(world):
    p = new_subject(world)
    got = [
        emit_event(p, "SERVICE_HOUR", "svc", i, at(2026, 5, 3 + i, 3), m).event.points
        for i, m in enumerate([50, 20, 45, 80])
    ]
    assert got == [0, 1, 0, 2]  # 50 → 70 (1 h) → 115 → 195 (3 h)
    # a new month starts without the carry
    assert emit_event(p, "SERVICE_HOUR", "svc", 9, at(2026, 6, 2, 3), 50).event.points == 0


def test_emitting_the_same_source_twice_records_once(world):
    p = new_subject(world)
    first = emit_event(p, "CHECKIN_MISSED", "period", "2026-03-02", utcnow() - timedelta(days=1))
    again = emit_event(p, "CHECKIN_MISSED", "period", "2026-03-02", utcnow())
    assert first.created and not again.created and again.event.id == first.event.id
    assert len(events_of(p.id)) == 1
    assert stored(p.id)["compliance"] == 80


def test_an_event_past_its_expiry_is_recorded_but_does_not_count(world):
    p = new_subject(world)
    old = emit_event(p, "CHECKIN_LATE", "period", "old", utcnow() - timedelta(days=91))
    assert old.event.status == "expired" and old.event.expires_at < utcnow()
    assert stored(p.id)["compliance"] == 85


def test_bad_emits_are_refused_with_codes(world):
    p = new_subject(world)
    with pytest.raises(DomainError) as e:
        emit_event(p, "NO_SUCH_RULE", "x", 1, utcnow())
    assert e.value.code == "RULE_UNKNOWN"
    with pytest.raises(DomainError) as e:
        emit_event(p, "CHECKIN_ONTIME", "x", 1, utcnow(), points=5)
    assert e.value.code == "SCORE_EVENT_INVALID"
    with pytest.raises(DomainError) as e:
        emit_event(p, "MANUAL_ADJUSTMENT", "x", 1, utcnow(), points=5, dimension="mood")
    assert e.value.code == "SCORE_EVENT_INVALID"
    with pytest.raises(DomainError) as e:
        emit_event(p, "CHECKIN_ONTIME", "Bad Kind", 1, utcnow())
    assert e.value.code == "SCORE_EVENT_INVALID"
    assert events_of(p.id) == []


def test_dimension_is_clamped_and_recovers_through_the_ledger(world):
    p = new_subject(world)
    emit_event(p, "MANUAL_ADJUSTMENT", "adj", 1, utcnow(), points=-120, dimension="behaviour")
    assert stored(p.id)["behaviour"] == 0
    emit_event(p, "MANUAL_ADJUSTMENT", "adj", 2, utcnow(), points=50, dimension="behaviour")
    assert stored(p.id)["behaviour"] == 15  # 85 − 120 + 50, not 0 + 50
    with db.tx() as s:
        ledger.revoke_event(s, events_of(p.id)[0].id, "appeal:1")
    assert stored(p.id)["behaviour"] == 100  # 85 + 50 clamped to the maximum
    assert stored(p.id) == from_ledger(p.id)


def test_revocation_is_a_status_change_with_a_reference(world):
    p = new_subject(world)
    e = emit_event(p, "GRID_NEGATIVE", "report", 7, utcnow()).event
    with db.tx() as s:
        ledger.revoke_event(s, e.id, "appeal:42")
    with db.tx() as s:
        row = s.get(ScoreEvent, e.id)
        assert (row.status, row.status_ref, row.points, row.reason) == ("revoked", "appeal:42", -5, None)
        with pytest.raises(DomainError) as err:
            ledger.revoke_event(s, e.id, "appeal:43")
    assert err.value.code == "ILLEGAL_TRANSITION"
    causes = [c for (c,) in db.session.execute(select(ScoreChange.cause).where(ScoreChange.subject_id == p.id))]
    assert causes == ["initial", "event", "revocation"]


@pytest.mark.parametrize(
    "total, grade",
    [
        (649, "severe"),
        (650, "poor"),
        (699, "poor"),
        (700, "fair"),
        (749, "fair"),
        (750, "good"),
        (799, "good"),
        (800, "excellent"),
    ],
)
def test_grade_band_edges(world, total, grade):
    base = total - (70 + 5 * 85)  # medium risk, every other dimension at its initial value
    p = new_subject(world, provincial=(5 * base + 1) // 2)  # round(0.4 × that) == base
    got = stored(p.id)
    assert (got["total"], got["grade"]) == (total, grade)
    with db.tx() as s:
        band = current(s).band(total)
    assert band.code == grade
    assert sql_differences() == []


def test_base_pending_blocks_grade_effects(world):
    pending = new_subject(world)
    based = new_subject(world, provincial=700)
    for p in (pending, based):
        for dim in ("compliance", "behaviour"):  # 280 + 495 − 85 − 85 = 605
            emit_event(p, "MANUAL_ADJUSTMENT", "adj", f"{p.id}-{dim}", utcnow(), points=-100, dimension=dim)
    assert stored(pending.id)["grade"] == stored(based.id)["grade"] == "severe"
    with db.tx() as s:
        assert effective_grade_of(s, pending.id) is None
        assert effective_grade_of(s, based.id) == "severe"
    warned = {w.subject_id for w in db.session.scalars(select(Warning).where(Warning.kind == "SCORE_RED"))}
    assert warned == {based.id}


def test_released_subject_takes_no_events(world):
    p = new_subject(world)
    stored(p.id)
    with db.tx() as s:
        from backend.models.scoring import SubjectScore

        s.get(SubjectScore, p.id).frozen = True
    with pytest.raises(DomainError) as e:
        emit_event(p, "CHECKIN_ONTIME", "checkin", 1, utcnow())
    assert e.value.code == "SUBJECT_RELEASED"


def _threads(n: int, fn) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            fn(i)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            db.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_emits_of_one_source_record_once(world):
    p = new_subject(world)
    results = []
    errors = _threads(6, lambda i: results.append(emit_event(p.id, "GRID_NEGATIVE", "report", 99, utcnow())))
    assert not errors
    assert sum(r.created for r in results) == 1 and len({r.event.id for r in results}) == 1
    assert stored(p.id)["behaviour"] == 80


def test_concurrent_emits_lose_no_points_and_keep_the_cap(world):
    p = new_subject(world)
    when = utcnow()
    errors = _threads(8, lambda i: emit_event(p.id, "GRID_POSITIVE", "report", i, when))
    errors += _threads(
        6, lambda i: emit_event(p.id, "MANUAL_ADJUSTMENT", "adj", i, when, points=-3, dimension="behaviour")
    )
    assert not errors
    granted = db.session.scalar(
        select(func.sum(ScoreEvent.points)).where(
            ScoreEvent.subject_id == p.id, ScoreEvent.rule_code == "GRID_POSITIVE"
        )
    )
    assert granted == 6  # cap +6 a month, whatever the interleaving
    assert stored(p.id)["behaviour"] == 85 + 6 - 18
    assert stored(p.id) == from_ledger(p.id)


def test_subject_lookup_by_id_or_object(world):
    p = new_subject(world)
    emit_event(p.id, "EDU_MONTH_MET", "month", "2026-02", at(2026, 3, 1, 1))
    with db.tx() as s:
        emit_event(s.get(Subject, p.id), "EDU_MONTH_MISSED", "month", "2026-03", utcnow())
    assert stored(p.id)["education"] == 85 + 3 - 5
