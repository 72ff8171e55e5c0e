"""Check-in periods, due times and on-time / late / missed (docs/checkins.md#periods), computed here and nowhere else.

Periods are anchored at the enrolment (start) date; their length follows the supervision level (strict 1,
normal 3, lenient 7 days), one step looser for a grade with the ``flexible_supervision`` benefit (green)
and one step tighter for a 重点关注 grade (red), always between 1 and 7 days; a period is due at 22:00
Asia/Shanghai on its last day. The clock is injectable (``use_clock``) so tests never sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.models import utcnow

TZ = ZoneInfo("Asia/Shanghai")
#: the interval ladder: strict, normal, lenient (days); grade effects move one step along it
STEPS = (1, 3, 7)
LEVEL_STEP = {"strict": 0, "normal": 1, "lenient": 2}
DUE_TIME = time(22, 0)
#: after the due time a check-in is late, not missed, for this long
GRACE = timedelta(hours=24)
#: an offline item counts at its claimed capture time when it arrives within this long …
OFFLINE_WINDOW = timedelta(hours=24)
#: … and its photo's EXIF capture time agrees with the claim within this
EXIF_AGREEMENT = timedelta(minutes=10)

_clock: Callable[[], datetime] = utcnow


def now() -> datetime:
    """The current time (UTC, aware) from the injectable clock."""
    return _clock().astimezone(UTC)


@contextmanager
def use_clock(fn: Callable[[], datetime]) -> Iterator[None]:
    """Run a block with another clock (tests: a fixed or steppable time)."""
    global _clock
    before = _clock
    _clock = fn
    try:
        yield
    finally:
        _clock = before


def local_date(at: datetime) -> date:
    return at.astimezone(TZ).date()


def local_midnight(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, as an aware time."""
    return datetime.combine(day, time(0), TZ)


def due_at(last_day: date) -> datetime:
    """22:00 Asia/Shanghai on a period's last day."""
    return datetime.combine(last_day, DUE_TIME, TZ)


def interval_days(level: str, *, looser: bool = False, tighter: bool = False, ladder: tuple[int, ...] = STEPS) -> int:
    """The period length for a supervision level and the grade's effect: one step along the ladder (strict,
    normal, lenient; policy, default 1, 3, 7 days) each way, clamped to the ladder and to 1–7 days."""
    step = LEVEL_STEP.get(level, 1) + (1 if looser else 0) - (1 if tighter else 0)
    return max(1, min(7, ladder[max(0, min(len(ladder) - 1, step))]))


@dataclass(frozen=True)
class Period:
    anchor: date
    index: int
    start: date
    end: date
    interval_days: int

    @property
    def due_at(self) -> datetime:
        return due_at(self.end)

    @property
    def starts_at(self) -> datetime:
        return local_midnight(self.start)

    @property
    def late_until(self) -> datetime:
        return self.due_at + GRACE

    def previous(self) -> Period | None:
        return period_at(self.start - timedelta(days=1), self.anchor, self.interval_days)

    def next(self) -> Period:
        return period_at(self.end + timedelta(days=1), self.anchor, self.interval_days)


def period_at(day: date, anchor: date, length: int) -> Period | None:
    """The period containing ``day`` (None before the anchor)."""
    if day < anchor:
        return None
    k = (day - anchor).days // length
    start = anchor + timedelta(days=k * length)
    return Period(anchor, k, start, start + timedelta(days=length - 1), length)


def is_period_end(day: date, anchor: date, length: int) -> bool:
    return day >= anchor and (day - anchor).days % length == length - 1


@dataclass(frozen=True)
class Placement:
    """Where a check-in at some time counts: ``on_time`` or ``late`` for ``period``, else ``extra``."""

    outcome: str
    period: Period | None


def place(
    at: datetime, anchor: date, length: int, checked: Callable[[Period], bool], *, own_period_first: bool = False
) -> Placement:
    """Place a check-in made at ``at``.

    A live check-in goes first to a period whose due time passed less than 24 h ago and that has no
    check-in (late: the period counts as checked; the app shows that period as still open), else to the
    period containing ``at`` if ``at`` is not past its due time and it has none (on time), else it is an
    extra check-in that counts for nothing. An offline item counted at its capture time
    (``own_period_first``) was made for the period it was taken in: that period takes it first, so queued
    items synced out of order still land where they were made.
    """
    current = period_at(local_date(at), anchor, length)
    if current is None:
        return Placement("extra", None)
    recent = current if at > current.due_at else current.previous()
    late_ok = recent is not None and recent.due_at < at <= recent.late_until
    on_time_ok = at <= current.due_at
    if own_period_first and on_time_ok and not checked(current):
        return Placement("on_time", current)
    if late_ok and not checked(recent):
        return Placement("late", recent)
    if on_time_ok and not checked(current):
        return Placement("on_time", current)
    return Placement("extra", None)


def counted_time(
    received_at: datetime, claimed: datetime, exif_captured: datetime | None, offline: bool
) -> tuple[datetime, str]:
    """The check-in's time and its basis: the receive time, or — for an item queued offline — its claimed
    capture time when the photo's EXIF capture time agrees (10 min) and it arrived within 24 hours."""
    if (
        offline
        and exif_captured is not None
        and abs(exif_captured - claimed) <= EXIF_AGREEMENT
        and timedelta(0) <= received_at - claimed <= OFFLINE_WINDOW
    ):
        return claimed, "captured"
    return received_at, "received"


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of 'YYYY-MM'."""
    first = date.fromisoformat(f"{month}-01")
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)


def month_of(at: datetime) -> str:
    return at.astimezone(TZ).strftime("%Y-%m")


def previous_month(day: date) -> str:
    return (day.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
