"""The activity rules as policy: versioned and audited with the rule set, changeable at run time.

Rules: docs/score.md#activity-policy (check-in intervals, leave limits, decision due times, education hours).

An administrator changes them by publishing a rule set (``/admin/rule-sets``, versioned and audited by the
Scoring feature) with an ``activities`` section, for example::

    "activities": {"checkin_interval_days": {"strict": 1, "normal": 3, "lenient": 7},
                   "leave_max_days": 30, "leave_year_max_days": 60, "short_leave_days": 7,
                   "decision_due_days": 3, "fast_track_due_days": 1,
                   "education_hours": {"strict": 10, "normal": 8, "lenient": 6}, "education_daily_cap_hours": 4}

A key left out keeps its default; a value out of range is ignored (logged) and its default used, so a
mistyped publication never stops check-ins. Read once per rule-set version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.services.scoring.rules import current

log = logging.getLogger(__name__)
LEVELS = ("strict", "normal", "lenient")
DEFAULTS: dict = {
    "checkin_interval_days": {"strict": 1, "normal": 3, "lenient": 7},
    "leave_max_days": 30,
    "leave_year_max_days": 60,
    "short_leave_days": 7,
    "decision_due_days": 3,
    "fast_track_due_days": 1,
    "education_hours": {"strict": 10, "normal": 8, "lenient": 6},
    "education_daily_cap_hours": 4,
}
#: allowed ranges (inclusive); the check-in interval stays within 1–7 days whatever is published
RANGES = {
    "checkin_interval_days": (1, 7),
    "leave_max_days": (1, 366),
    "leave_year_max_days": (0, 366),
    "short_leave_days": (1, 366),
    "decision_due_days": (1, 60),
    "fast_track_due_days": (1, 60),
    "education_hours": (0, 200),
    "education_daily_cap_hours": (1, 24),
}


@dataclass(frozen=True)
class Policy:
    checkin_interval_days: dict[str, int]
    leave_max_days: int
    leave_year_max_days: int
    short_leave_days: int
    decision_due_days: int
    fast_track_due_days: int
    education_hours: dict[str, int]
    education_daily_cap_hours: int

    @property
    def ladder(self) -> tuple[int, ...]:
        """Interval days from the strictest level to the most lenient: a grade moves one step along it."""
        return tuple(self.checkin_interval_days[level] for level in LEVELS)


def _ok(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _value(raw: dict, key: str, version: int) -> object:
    default = DEFAULTS[key]
    lo, hi = RANGES[key]
    given = raw.get(key, default)
    if isinstance(default, dict):
        given = given if isinstance(given, dict) else {}
        out = {}
        for level in LEVELS:
            v = given.get(level, default[level])
            out[level] = v if _ok(v, lo, hi) else default[level]
            if out[level] != v:
                log.warning("activity policy value ignored", extra={"key": f"{key}.{level}", "version": version})
        return out
    if _ok(given, lo, hi):
        return given
    log.warning("activity policy value ignored", extra={"key": key, "version": version})
    return default


_CACHE: dict[int, Policy] = {}


def policy(session: Session) -> Policy:
    """The policy of the rule set in force."""
    rules = current(session)
    found = _CACHE.get(id(rules))
    if found is None:
        raw = rules.data.get("activities")
        raw = raw if isinstance(raw, dict) else {}
        found = Policy(**{k: _value(raw, k, rules.version) for k in DEFAULTS})
        found = _CACHE.setdefault(id(rules), found)
    return found
