"""Periods, due times, placement, the offline rule and the geofence distance rule, as pure functions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.errors import DomainError
from backend.services.activities import periods
from backend.services.activities.geofence import distance_to_area, validate_area
from tests.support.activities import YEAR, sh

ANCHOR = date(YEAR, 1, 1)


@pytest.mark.parametrize(
    ("level", "looser", "tighter", "days"),
    [
        ("strict", False, False, 1),
        ("normal", False, False, 3),
        ("lenient", False, False, 7),
        ("strict", True, False, 3),
        ("normal", True, False, 7),
        ("lenient", True, False, 7),  # never looser than 7 days
        ("lenient", False, True, 3),
        ("normal", False, True, 1),
        ("strict", False, True, 1),  # never tighter than 1 day
    ],
)
def test_interval_by_level_and_grade(level, looser, tighter, days):
    assert periods.interval_days(level, looser=looser, tighter=tighter) == days


def test_periods_are_anchored_at_the_start_date_and_due_at_22_shanghai():
    p = periods.period_at(date(YEAR, 1, 5), ANCHOR, 3)
    assert (p.index, p.start, p.end) == (1, date(YEAR, 1, 4), date(YEAR, 1, 6))
    assert p.due_at == sh(1, 6, 22) and p.due_at.utcoffset() == timedelta(hours=8)
    assert p.previous().end == date(YEAR, 1, 3) and p.next().start == date(YEAR, 1, 7)
    assert periods.period_at(date(YEAR - 1, 12, 31), ANCHOR, 3) is None
    assert periods.period_at(ANCHOR, ANCHOR, 7).previous() is None


def _place(at, *unchecked):
    """Place a check-in at ``at`` when only the periods ending on the ``unchecked`` days have no check-in."""
    return periods.place(at, ANCHOR, 1, lambda p: p.end not in unchecked)


def test_21_59_is_on_time_and_22_01_is_late_for_a_one_day_period():
    day = date(YEAR, 3, 2)
    on = _place(sh(3, 2, 21, 59), day)
    assert (on.outcome, on.period.end) == ("on_time", day)
    late = _place(sh(3, 2, 22, 1), day)
    assert (late.outcome, late.period.end) == ("late", day)
    # the period already checked: 22:01 counts for nothing (the next period has not begun)
    assert _place(sh(3, 2, 22, 1)).outcome == "extra"


def test_22_01_the_next_day_is_past_the_grace_of_the_day_before():
    d2, d3 = date(YEAR, 3, 2), date(YEAR, 3, 3)
    # 24 h 1 min after the 2nd's due time: too late for the 2nd (the job finds it missed), late for the 3rd
    placed = _place(sh(3, 3, 22, 1), d2, d3)
    assert (placed.outcome, placed.period.end) == ("late", d3)
    # within the grace of the 2nd, an unchecked 2nd takes a morning check-in first (late), …
    morning = _place(sh(3, 3, 9, 0), d2, d3)
    assert (morning.outcome, morning.period.end) == ("late", d2)
    # … and once the 2nd is checked the next one counts for the 3rd, on time
    nxt = _place(sh(3, 3, 9, 5), d3)
    assert (nxt.outcome, nxt.period.end) == ("on_time", d3)


def test_year_end_and_utc_midnight_edges():
    # 31 Dec 23:30 Shanghai is 15:30 UTC the same day; 1 Jan 07:00 Shanghai is still 31 Dec in UTC
    anchor = date(YEAR - 1, 12, 29)
    new_year = periods.place(sh(1, 1, 7, 0), anchor, 3, lambda p: True)
    assert new_year.outcome == "extra"
    fresh = periods.place(sh(1, 1, 7, 0), anchor, 3, lambda p: False)
    # the period 29–31 Dec was due 31 Dec 22:00: a check-in 9 hours later is late for it
    assert (fresh.outcome, fresh.period.end) == ("late", date(YEAR - 1, 12, 31))
    on = periods.place(sh(1, 1, 7, 0), anchor, 3, lambda p: p.end == date(YEAR - 1, 12, 31))
    assert (on.outcome, on.period.start) == ("on_time", date(YEAR, 1, 1))
    assert periods.local_date(sh(1, 1, 7, 0)) == date(YEAR, 1, 1)


def test_offline_items_count_at_their_capture_time_only_when_the_photo_agrees_and_they_arrive_within_a_day():
    taken = sh(3, 2, 21, 0)
    arrived = sh(3, 3, 8, 0)
    exif = taken + timedelta(minutes=3)
    assert periods.counted_time(arrived, taken, exif, True) == (taken, "captured")
    assert periods.counted_time(arrived, taken, exif, False) == (arrived, "received")  # online: receive time
    assert periods.counted_time(arrived, taken, taken + timedelta(minutes=11), True) == (arrived, "received")
    assert periods.counted_time(arrived, taken, None, True) == (arrived, "received")  # no EXIF time
    late = taken + timedelta(hours=24, minutes=1)
    assert periods.counted_time(late, taken, exif, True) == (late, "received")


def test_month_helpers():
    assert periods.month_bounds(f"{YEAR}-02") == (date(YEAR, 2, 1), date(YEAR, 2, 28 if YEAR % 4 else 29))
    assert periods.month_bounds(f"{YEAR}-12") == (date(YEAR, 12, 1), date(YEAR, 12, 31))
    assert periods.previous_month(date(YEAR, 1, 1)) == f"{YEAR - 1}-12"
    assert periods.month_of(sh(12, 31, 23, 30)) == f"{YEAR}-12"  # 15:30 UTC


CIRCLE = {"type": "Point", "coordinates": [120.0, 30.0], "radius_m": 1000}
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1], [120.0, 30.0]]],
}
#: the square with a hole in its middle (120.04–120.06, 30.04–30.06), and a second square 0.2° east
HOLED = {
    "type": "Polygon",
    "coordinates": [
        SQUARE["coordinates"][0],
        [[120.04, 30.04], [120.04, 30.06], [120.06, 30.06], [120.06, 30.04], [120.04, 30.04]],
    ],
}
TWO = {
    "type": "MultiPolygon",
    "coordinates": [
        SQUARE["coordinates"],
        [[[120.3, 30.0], [120.4, 30.0], [120.4, 30.1], [120.3, 30.1], [120.3, 30.0]]],
    ],
}


def test_distance_to_a_circle_and_a_polygon():
    assert distance_to_area(CIRCLE, 30.0, 120.0) == 0
    # 0.02° of latitude ≈ 2224 m from the centre: 1224 m outside the 1 km radius
    assert distance_to_area(CIRCLE, 30.02, 120.0) == pytest.approx(1224, abs=5)
    assert distance_to_area(SQUARE, 30.05, 120.05) == 0
    assert distance_to_area(SQUARE, 30.05, 120.11) == pytest.approx(0.01 * 111_195 * 0.866, rel=0.01)
    assert distance_to_area({"type": "Polygon", "coordinates": [[[1, 2]]]}, 30, 120) is None
    assert distance_to_area({"type": "Point", "coordinates": [120.0, 30.0]}, 30, 120) is None  # no radius_m


def test_distance_to_a_polygon_with_a_hole_and_to_a_multipolygon():
    assert distance_to_area(HOLED, 30.02, 120.02) == 0
    # the middle of the hole is 0.01° from its edges: ~960 m (east-west, at 30.05°) outside the area
    assert distance_to_area(HOLED, 30.05, 120.05) == pytest.approx(0.01 * 111_195 * 0.866, rel=0.01)
    assert distance_to_area(TWO, 30.05, 120.35) == 0
    assert distance_to_area(TWO, 30.05, 120.2) == pytest.approx(0.1 * 111_195 * 0.866, rel=0.01)
    assert distance_to_area({"type": "Point", "coordinates": [120.0, 30.0, 12.5], "radius_m": 10}, 30, 120) == 0


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"type": "square"},
        {"type": "Point", "coordinates": [200, 30], "radius_m": 10},
        {"type": "Point", "coordinates": [120, 30], "radius_m": -1},
        {"type": "Point", "coordinates": [120, 30], "radius_m": True},
        {"type": "Point", "coordinates": [120, 30]},
        {"type": "Polygon", "coordinates": [[[120, 30], [121, 30], [120, 30]]]},
        {"type": "Polygon", "coordinates": [[[120, 30], [121, "x"], [121, 31], [120, 30]]]},
        {"type": "Polygon", "coordinates": [[[120, 30], [121, 30], [121, 31], [120, 31]]]},  # ring not closed
        {"type": "Polygon", "coordinates": []},
        {"type": "MultiPolygon", "coordinates": [[]]},
        # the shapes stored before migration 0010_formats are no longer accepted
        {"type": "circle", "center": [120.0, 30.0], "radius_m": 1000},
        {"type": "polygon", "coordinates": [[120.0, 30.0], [120.1, 30.0], [120.1, 30.1]]},
    ],
)
def test_malformed_areas_are_refused(bad):
    with pytest.raises(DomainError) as err:
        validate_area(bad)
    assert err.value.code == "AREA_INVALID"


def test_an_offline_item_goes_to_its_own_period_first():
    d2, d3 = date(YEAR, 3, 2), date(YEAR, 3, 3)
    live = periods.place(sh(3, 3, 9), ANCHOR, 1, lambda p: p.end not in (d2, d3))
    queued = periods.place(sh(3, 3, 9), ANCHOR, 1, lambda p: p.end not in (d2, d3), own_period_first=True)
    assert (live.outcome, live.period.end) == ("late", d2)
    assert (queued.outcome, queued.period.end) == ("on_time", d3)
