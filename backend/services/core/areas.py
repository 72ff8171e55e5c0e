"""Permitted areas as GeoJSON geometry (RFC 7946): a district's area, a leave's destination area.

Rules: docs/checkins.md#geofence. An area is one of

- ``{"type": "Polygon", "coordinates": [[[lon, lat], ..., [lon, lat]], ...]}``: an outer ring and optional holes,
  each ring closed (its last position repeats its first) with at least 4 positions;
- ``{"type": "MultiPolygon", "coordinates": [<Polygon coordinates>, ...]}``;
- ``{"type": "Point", "coordinates": [lon, lat], "radius_m": 5000}``: a circle, written as a Point with a
  ``radius_m`` member (GeoJSON has no circle; RFC 7946 §6.1 allows such foreign members).

Positions are [longitude, latitude] in WGS 84 (an altitude, if given, is ignored). Areas stored before
migration 0010_formats were ``{"type": "polygon", ...}`` / ``{"type": "circle", "center": ...}``; the
migration rewrote them.
"""

from __future__ import annotations

import math

from shapely.geometry import Point
from shapely.geometry import Polygon as ShapelyPolygon

from backend.errors import DomainError, register
from media.geo import EARTH_RADIUS_M, haversine_m

register(
    "AREA_INVALID",
    422,
    "区域范围格式不正确(应为 GeoJSON Polygon、MultiPolygon,或带 radius_m 的 Point)",
    "The area is not a GeoJSON Polygon, MultiPolygon, or Point with radius_m",
)

#: area types accepted (GeoJSON geometry types)
AREA_TYPES = ("Point", "Polygon", "MultiPolygon")
MAX_RADIUS_M = 500_000
MAX_POSITIONS = 5000
EXPECTED = (
    'GeoJSON geometry: {"type": "Polygon", "coordinates": [[[lon, lat], ..., [lon, lat]]]} (closed rings), '
    'a MultiPolygon, or {"type": "Point", "coordinates": [lon, lat], "radius_m": n} (0 < n ≤ 500000)'
)
_DEG = math.pi / 180 * EARTH_RADIUS_M  # metres per degree of latitude


def _position(p: object) -> bool:
    return (
        isinstance(p, list | tuple)
        and len(p) in (2, 3)
        and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in p)
        and -180 <= p[0] <= 180
        and -90 <= p[1] <= 90
    )


def _ring(r: object) -> str | None:
    if not isinstance(r, list) or len(r) < 4:
        return "a ring has at least 4 positions"
    if not all(_position(p) for p in r):
        return "a position is [lon, lat] with -180 ≤ lon ≤ 180 and -90 ≤ lat ≤ 90"
    if list(r[0][:2]) != list(r[-1][:2]):
        return "a ring is closed: its last position repeats its first"
    return None


def _polygon(rings: object) -> str | None:
    if not isinstance(rings, list) or not rings:
        return "Polygon coordinates are a list of rings (the outer ring first)"
    for r in rings:
        if (problem := _ring(r)) is not None:
            return problem
    return None


def problem(area: object) -> str | None:
    """What is wrong with ``area`` as a permitted area, or None when it is usable."""
    if not isinstance(area, dict) or area.get("type") not in AREA_TYPES:
        return EXPECTED
    coords = area.get("coordinates")
    if area["type"] == "Point":
        r = area.get("radius_m")
        if not _position(coords):
            return "a Point's coordinates are [lon, lat]"
        if not (isinstance(r, int | float) and not isinstance(r, bool) and 0 < r <= MAX_RADIUS_M):
            return f"a Point needs radius_m, in metres: 0 < radius_m ≤ {MAX_RADIUS_M}"
        return None
    polygons = [coords] if area["type"] == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        return "MultiPolygon coordinates are a list of Polygon coordinates"
    for rings in polygons:
        if (p := _polygon(rings)) is not None:
            return p
    if sum(len(r) for rings in polygons for r in rings) > MAX_POSITIONS:
        return f"at most {MAX_POSITIONS} positions"
    return None


def validate(area: object, field: str = "area") -> dict:
    """``area`` if it is usable (else AREA_INVALID naming ``field``)."""
    if (p := problem(area)) is not None:
        raise DomainError("AREA_INVALID", {field: [p]})
    return area  # type: ignore[return-value]


def distance_m(area: dict, lat: float, lon: float) -> float | None:
    """Metres from the point to the area (0 inside); None for an unusable area."""
    if problem(area) is not None:
        return None
    if area["type"] == "Point":
        c_lon, c_lat = area["coordinates"][:2]
        return max(0.0, haversine_m(lat, lon, c_lat, c_lon) - float(area["radius_m"]))
    polygons = [area["coordinates"]] if area["type"] == "Polygon" else area["coordinates"]
    # a local equirectangular projection around the point: metres, accurate at district scale
    k = math.cos(math.radians(lat))

    def local(ring: list) -> list[tuple[float, float]]:
        return [((p[0] - lon) * _DEG * k, (p[1] - lat) * _DEG) for p in ring]

    best = math.inf
    for rings in polygons:
        poly = ShapelyPolygon(local(rings[0]), [local(h) for h in rings[1:]])
        if not poly.is_valid:
            poly = poly.buffer(0)
        best = min(best, float(poly.distance(Point(0.0, 0.0))))
    return best
