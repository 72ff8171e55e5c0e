"""Claim checks at attachment (docs/photos.md#claim-checks): capture time and GPS against what the record claims."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from media.geo import haversine_m

CHECKIN_TIME_TOLERANCE = timedelta(minutes=10)
REPORT_TIME_TOLERANCE = timedelta(hours=48)
GPS_TOLERANCE_M = 500.0
#: two photos whose capture times differ by at least this are separate exposures, however alike
NEW_EXPOSURE_GAP = timedelta(seconds=1)


@dataclass(frozen=True)
class Claim:
    """What the record says about its photo; a missing field is not checked."""

    captured_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    time_tolerance: timedelta = REPORT_TIME_TOLERANCE
    distance_m: float = GPS_TOLERANCE_M

    def to_json(self) -> dict:
        return {
            "captured_at": self.captured_at.isoformat() if self.captured_at else None,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "time_tolerance_s": self.time_tolerance.total_seconds(),
            "distance_m": self.distance_m,
        }

    @classmethod
    def from_json(cls, d: dict) -> Claim:
        return cls(
            captured_at=datetime.fromisoformat(d["captured_at"]) if d.get("captured_at") else None,
            latitude=d.get("latitude"),
            longitude=d.get("longitude"),
            time_tolerance=timedelta(seconds=d.get("time_tolerance_s", REPORT_TIME_TOLERANCE.total_seconds())),
            distance_m=d.get("distance_m", GPS_TOLERANCE_M),
        )


def captured_at(facts: dict) -> datetime | None:
    value = facts.get("captured_at")
    return datetime.fromisoformat(value) if value else None


def claim_reasons(facts: dict, claim: Claim) -> list[tuple[str, dict]]:
    """CAPTURE_TIME_MISMATCH and GPS_MISMATCH, each only when both sides are known."""
    out: list[tuple[str, dict]] = []
    taken = captured_at(facts)
    if taken is not None and claim.captured_at is not None:
        gap = abs(taken - claim.captured_at)
        if gap > claim.time_tolerance:
            out.append(("CAPTURE_TIME_MISMATCH", {"minutes": round(gap.total_seconds() / 60)}))
    lat, lon = facts.get("latitude"), facts.get("longitude")
    if None not in (lat, lon, claim.latitude, claim.longitude):
        metres = haversine_m(lat, lon, claim.latitude, claim.longitude)
        if metres > claim.distance_m:
            out.append(("GPS_MISMATCH", {"distance_m": round(metres)}))
    return out


def new_exposure(earlier: dict, later: dict) -> bool:
    """True when the capture facts show two exposures: both have capture times and they differ."""
    a, b = captured_at(earlier), captured_at(later)
    return a is not None and b is not None and abs(a - b) >= NEW_EXPOSURE_GAP
