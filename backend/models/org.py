"""Org units: province › city › district › office › grid, with a materialised path for subtree queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

LEVELS = ("province", "city", "district", "office", "grid")


class OrgUnit(Base):
    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    #: "/1/4/9/" — the ids from the root down to and including this unit; a subtree is a prefix match.
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    #: districts: GeoJSON geometry (backend.services.core.areas): {"type": "Polygon", "coordinates":
    #: [[[lon, lat], ..., [lon, lat]]]} or a circle {"type": "Point", "coordinates": [lon, lat], "radius_m": 5000}
    area: Mapped[dict | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
