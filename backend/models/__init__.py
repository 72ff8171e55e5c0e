"""Typed SQLAlchemy models, one module per aggregate; importing this package registers them all."""

# feature modules without names re-exported here still register their tables on import
from backend.models import (  # noqa: F401
    checkin,
    delivery,
    education,
    escalation,
    faces,
    field,
    levels,
    release,
    request,
    scoring,
    scoring_decisions,
    service,
)
from backend.models.alerts import Notification, Warning
from backend.models.audit import AuditLog
from backend.models.base import Base, utcnow
from backend.models.idempotency import IdempotencyRecord
from backend.models.jobs import JobRun, OutboxMessage
from backend.models.org import OrgUnit
from backend.models.subject import PublicCreditBase, Subject, SubjectChange
from backend.models.upload import Upload, UploadHashBand
from backend.models.user import ActivationCode, Device, RefreshToken, User, UserUnit

__all__ = [
    "ActivationCode",
    "AuditLog",
    "Base",
    "Device",
    "IdempotencyRecord",
    "JobRun",
    "Notification",
    "OrgUnit",
    "OutboxMessage",
    "PublicCreditBase",
    "RefreshToken",
    "Subject",
    "SubjectChange",
    "Upload",
    "UploadHashBand",
    "User",
    "UserUnit",
    "Warning",
    "utcnow",
]
