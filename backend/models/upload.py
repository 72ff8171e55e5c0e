"""Photo uploads: declaration, bytes, check results, the record they are attached to, review and retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

PURPOSES = ("checkin", "service", "field", "education", "merit", "appeal", "enrolment")


class Upload(Base):
    """One photo. ``status`` is the checks' verdict (state machine in services.uploads); keys are ours only."""

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_status_expires", "status", "upload_expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: whose evidence it is: the uploading subject at once, anyone else's upload when it is attached
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    declared_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: where a presigned POST puts the bytes (S3); copied to ``storage_key`` on completion, then deleted
    incoming_key: Mapped[str | None] = mapped_column(String(200))
    upload_expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]
    format: Mapped[str | None] = mapped_column(String(8))
    #: captured_at, latitude, longitude, make, model, software, orientation, width, height, …
    facts: Mapped[dict] = mapped_column(default=dict)
    #: [{"code": ..., "detail": {...}}], intrinsic reasons first, then those found at attachment
    reasons: Mapped[list] = mapped_column(default=list)
    phash: Mapped[str | None] = mapped_column(String(16))
    #: {"display": {"key", "width", "height"}, "thumbnail": {...}}: re-encoded, metadata stripped
    derivatives: Mapped[dict] = mapped_column(default=dict)
    record_type: Mapped[str | None] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(String(64))
    attached_at: Mapped[datetime | None]
    #: what the record claims: captured_at, latitude, longitude and the tolerances used
    claim: Mapped[dict | None] = mapped_column()
    review_status: Mapped[str | None] = mapped_column(String(12), index=True)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    #: a dispute (appeal) holds the original; the retention clock runs from ``case_closed_at``
    retention_hold: Mapped[bool] = mapped_column(default=False)
    case_closed_at: Mapped[datetime | None] = mapped_column(index=True)
    original_deleted_at: Mapped[datetime | None]


class UploadHashBand(Base):
    """Bands of an attached photo's pHash, per subject: near-duplicates share a band, found by index."""

    __tablename__ = "upload_hash_bands"
    __table_args__ = (Index("ix_upload_hash_bands_lookup", "subject_id", "band", "value"),)

    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True)
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    value: Mapped[int] = mapped_column()
