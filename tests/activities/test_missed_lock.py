"""A miss is recorded under the subject's row lock, after looking again for a check-in placed meanwhile."""

from __future__ import annotations

from datetime import date

from backend.db import db
from backend.models import Subject
from backend.services.activities import missed
from tests.support.activities import YEAR, check_in, headers_for, new_subject, rules_of, sh


def test_a_period_placed_after_the_search_is_not_recorded_missed(client, world, clock):
    """The nightly search found the period empty; a placement committed before the miss was recorded wins."""
    subject = new_subject(world, level="strict", start_date=date(YEAR, 3, 2))
    with db.tx() as s:
        assert subject.id in missed.find_missed(s, date(YEAR, 3, 2))  # the search, before the check-in
    placed = check_in(client, headers_for(client, subject), clock, sh(3, 3, 8), taken=sh(3, 2, 21, 50))
    assert placed["period_end"] == f"{YEAR}-03-02"
    with db.tx() as s:
        assert missed._record_miss(s, s.get(Subject, subject.id), date(YEAR, 3, 2)) is False
    assert "CHECKIN_MISSED" not in rules_of(subject.id)
