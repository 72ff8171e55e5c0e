"""formats: stored areas become GeoJSON geometry, warning kinds UPPER_SNAKE (issue 13, part 5)

Areas (``org_units.area``, ``subject_requests.destination_area``):

- ``{"type": "polygon", "coordinates": [[lon, lat], ...]}`` → ``{"type": "Polygon", "coordinates": [[...]]}``
  with the ring closed (its first position repeated at the end);
- ``{"type": "circle", "center": [lon, lat], "radius_m": r}`` → ``{"type": "Point", "coordinates": [lon, lat],
  "radius_m": r}``.

Areas already in GeoJSON are left as they are. Warning kinds: ``face_reference_missing`` →
``FACE_REFERENCE_MISSING``. The audit log keeps the values it recorded (its rows are HMAC-chained).

Revision ID: 0010_formats
Revises: 0009_idempotency_scope
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_formats"
down_revision: str | None = "0009_idempotency_scope"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: old kind → new kind
KINDS = {"face_reference_missing": "FACE_REFERENCE_MISSING"}
AREA_COLUMNS = (("org_units", "area"), ("subject_requests", "destination_area"))


def to_geojson(area):
    """The GeoJSON form of a stored area (unchanged when it is not one of the two old shapes)."""
    if not isinstance(area, dict):
        return area
    if area.get("type") == "circle" and isinstance(area.get("center"), list):
        return {"type": "Point", "coordinates": list(area["center"]), "radius_m": area.get("radius_m")}
    if area.get("type") == "polygon" and isinstance(area.get("coordinates"), list):
        ring = [list(p) for p in area["coordinates"]]
        if ring and ring[0] != ring[-1]:
            ring.append(list(ring[0]))
        return {"type": "Polygon", "coordinates": [ring]}
    return area


def from_geojson(area):
    """The old form of a GeoJSON area (a MultiPolygon keeps its first polygon, a Polygon loses its holes)."""
    if not isinstance(area, dict):
        return area
    if area.get("type") == "Point":
        return {"type": "circle", "center": list(area["coordinates"][:2]), "radius_m": area.get("radius_m")}
    if area.get("type") in ("Polygon", "MultiPolygon"):
        rings = area["coordinates"] if area["type"] == "Polygon" else area["coordinates"][0]
        ring = [list(p[:2]) for p in rings[0]]
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring.pop()
        return {"type": "polygon", "coordinates": ring}
    return area


def _convert(fn) -> None:
    conn = op.get_bind()
    for table_name, column in AREA_COLUMNS:
        t = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column, sa.JSON))
        col = t.c[column]
        rows = conn.execute(sa.select(t.c.id, col).where(col.isnot(None))).all()
        for row_id, area in rows:
            new = fn(area)
            if new != area:
                conn.execute(t.update().where(t.c.id == row_id).values({column: new}))


def _kinds(mapping: dict[str, str]) -> None:
    warnings = sa.table("warnings", sa.column("kind", sa.String))
    for old, new in mapping.items():
        op.get_bind().execute(warnings.update().where(warnings.c.kind == old).values(kind=new))


def upgrade() -> None:
    _convert(to_geojson)
    _kinds(KINDS)


def downgrade() -> None:
    _kinds({new: old for old, new in KINDS.items()})
    _convert(from_geojson)
