"""Face references (enrolment photos and their encrypted descriptors) and the face check of each selfie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow

#: PIPL art. 13(1)(3): processing needed to fulfil a statutory duty; art. 13(1)(1): separate consent
LEGAL_BASES = ("statutory_duty", "consent")
SOURCES = ("enrolment", "cleared_checkin")


class FaceReference(Base):
    """One reference photo of a subject. Deleting it (or releasing the subject) wipes the descriptor."""

    __tablename__ = "face_references"
    __table_args__ = (Index("ix_face_references_subject_active", "subject_id", "deleted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    #: Fernet ciphertext (DATA_KEY) of 128 float32; NULL once the reference is deleted
    descriptor_enc: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(40))
    #: the face's box on the 640 px detection copy (no biometric content)
    face_box: Mapped[dict] = mapped_column(default=dict)
    legal_basis: Mapped[str] = mapped_column(String(20))
    legal_basis_text: Mapped[str] = mapped_column(Text)
    notice_version: Mapped[str] = mapped_column(String(40))
    notice_given_at: Mapped[datetime]
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: staff | replaced | release
    delete_reason: Mapped[str | None] = mapped_column(String(16))


class FaceCheck(Base):
    """The face check of one check-in selfie: its result code and the distance to the nearest reference."""

    __tablename__ = "face_checks"

    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    #: pending → done (the result is final); the check never changes the selfie's bytes
    status: Mapped[str] = mapped_column(String(10), default="pending")
    #: MATCH, NO_FACE, MULTIPLE_FACES, FACE_TOO_SMALL, FACE_MISMATCH, FACE_UNCERTAIN, NO_REFERENCE, UNREADABLE
    result: Mapped[str | None] = mapped_column(String(20))
    distance: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("face_references.id"))
    references_compared: Mapped[int] = mapped_column(SmallInteger, default=0)
    faces_found: Mapped[int] = mapped_column(SmallInteger, default=0)
    face_px: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_at: Mapped[datetime | None]
