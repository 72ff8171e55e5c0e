"""The release export's signature and its handover to the provincial platform (docs/score.md#release-and-export)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class ReleaseExport(Base):
    """One per released subject: the Ed25519 signature of the export record (``score_releases.record``), made at
    release with a key outside the database, and the record's handover to the provincial platform."""

    __tablename__ = "release_exports"

    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), primary_key=True, autoincrement=False)
    #: Ed25519 over the canonical JSON of the record, base64
    signature: Mapped[str] = mapped_column(String(100))
    #: the first 16 hex digits of the SHA-256 of the signing public key
    signing_key_id: Mapped[str] = mapped_column(String(16))
    #: the recipient key the ID number was sealed to (same form), None for a record without one
    recipient_key_id: Mapped[str | None] = mapped_column(String(16))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    handed_over_at: Mapped[datetime | None]
    handed_over_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the platform's receipt or batch number, as the bureau user typed it
    handover_reference: Mapped[str | None] = mapped_column(String(100))
    handover_note: Mapped[str | None] = mapped_column(Text)
    #: SHA-256 (hex) of the export file as served: what was handed over
    file_sha256: Mapped[str | None] = mapped_column(String(64))


__all__ = ["ReleaseExport"]
