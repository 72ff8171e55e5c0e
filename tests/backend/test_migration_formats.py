"""Migration 0010_formats on each backend: stored areas become GeoJSON, warning kinds UPPER_SNAKE, and back."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy import create_engine, inspect

from backend.migrate import alembic_config, upgrade
from backend.services.activities.geofence import distance_to_area
from backend.services.core.areas import problem
from backend.services.core.warnings import WARNING_KINDS
from tests.backend.test_migrations import empty_db  # noqa: F401 - the fixture: an empty database per backend

BEFORE = "0009_idempotency_scope"
OLD_POLYGON = {"type": "polygon", "coordinates": [[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1]]}
OLD_CIRCLE = {"type": "circle", "center": [120.0, 30.0], "radius_m": 1000}
GEOJSON = {"type": "Point", "coordinates": [121.0, 31.0], "radius_m": 50}
_n = itertools.count(1)


def _filler(col: dict) -> object:
    t = col["type"]
    if isinstance(t, sa.Boolean):
        return False
    if isinstance(t, sa.Integer):
        return 0
    if isinstance(t, sa.DateTime):
        return datetime(2026, 1, 1, tzinfo=UTC)
    if isinstance(t, sa.Date):
        return date(2026, 1, 1)
    if isinstance(t, sa.JSON):
        return {}
    return f"v{next(_n)}"[: getattr(t, "length", None) or 20]


def _insert(conn, table: str, **values) -> int:
    """Insert a row, filling every other NOT NULL column of the table (as it is at BEFORE) with a plain value."""
    meta = sa.MetaData()
    t = sa.Table(table, meta, autoload_with=conn)
    row = {
        c["name"]: _filler(c)
        for c in inspect(conn).get_columns(table)
        if not c["nullable"] and c["name"] != "id" and c["name"] not in values and c.get("default") is None
    }
    return conn.execute(t.insert().values({**row, **values}).returning(t.c.id)).scalar_one()


def _world(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            js = sa.table("org_units", sa.column("id"), sa.column("area", sa.JSON))
            prov = _insert(conn, "org_units", level="province", code="P", path="/1/")
            district = _insert(conn, "org_units", level="district", code="D", path="/1/2/", parent_id=prov)
            circle_d = _insert(conn, "org_units", level="district", code="D2", path="/1/3/", parent_id=prov)
            new_d = _insert(conn, "org_units", level="district", code="D3", path="/1/4/", parent_id=prov)
            office = _insert(conn, "org_units", level="office", code="O", path="/1/2/5/", parent_id=district)
            for unit, area in ((district, OLD_POLYGON), (circle_d, OLD_CIRCLE), (new_d, GEOJSON)):
                conn.execute(js.update().where(js.c.id == unit).values(area=area))
            user = _insert(conn, "users", username="s1", role="subject", active=True)
            subject = _insert(conn, "subjects", user_id=user, office_id=office, grid_id=office, status="in_correction")
            request = _insert(conn, "subject_requests", subject_id=subject, office_id=office, type="leave")
            rq = sa.table("subject_requests", sa.column("id"), sa.column("destination_area", sa.JSON))
            conn.execute(rq.update().where(rq.c.id == request).values(destination_area=OLD_CIRCLE))
            w = {"subject_id": subject, "office_id": office, "status": "open", "details": {}, "evidence": []}
            old_w = _insert(conn, "warnings", kind="face_reference_missing", period_key="a", **w)
            kept_w = _insert(conn, "warnings", kind="GEOFENCE", period_key="b", **w)
    finally:
        engine.dispose()
    return {
        "district": district,
        "circle": circle_d,
        "new": new_d,
        "request": request,
        "old_w": old_w,
        "kept_w": kept_w,
    }


def _read(url: str, ids: dict) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            units = sa.table("org_units", sa.column("id"), sa.column("area", sa.JSON))
            rq = sa.table("subject_requests", sa.column("id"), sa.column("destination_area", sa.JSON))
            ws = sa.table("warnings", sa.column("id"), sa.column("kind"))
            area = dict(conn.execute(sa.select(units.c.id, units.c.area)).all())
            return {
                "district": area[ids["district"]],
                "circle": area[ids["circle"]],
                "new": area[ids["new"]],
                "request": conn.execute(sa.select(rq.c.destination_area).where(rq.c.id == ids["request"])).scalar(),
                "kinds": dict(conn.execute(sa.select(ws.c.id, ws.c.kind)).all()),
            }
    finally:
        engine.dispose()


def test_0010_converts_stored_areas_and_warning_kinds_and_back(empty_db):  # noqa: F811 - the imported fixture
    upgrade(empty_db, BEFORE)
    ids = _world(empty_db)
    upgrade(empty_db, "0010_formats")
    after = _read(empty_db, ids)
    square = [[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.1], [120.0, 30.0]]
    assert after["district"] == {"type": "Polygon", "coordinates": [square]}
    assert after["circle"] == {"type": "Point", "coordinates": [120.0, 30.0], "radius_m": 1000}
    assert after["new"] == GEOJSON  # already GeoJSON: untouched
    assert after["request"] == after["circle"]
    for area in (after["district"], after["circle"], after["request"]):
        assert problem(area) is None  # what the code now accepts, and the geofence measures it
    assert distance_to_area(after["district"], 30.05, 120.05) == 0
    assert distance_to_area(after["circle"], 30.02, 120.0) > 1000
    assert after["kinds"] == {ids["old_w"]: "FACE_REFERENCE_MISSING", ids["kept_w"]: "GEOFENCE"}
    assert set(after["kinds"].values()) <= set(WARNING_KINDS)

    from alembic import command

    command.downgrade(alembic_config(empty_db), BEFORE)
    back = _read(empty_db, ids)
    assert (back["district"], back["circle"], back["request"]) == (OLD_POLYGON, OLD_CIRCLE, OLD_CIRCLE)
    assert back["kinds"][ids["old_w"]] == "face_reference_missing"
