"""Typed SQLAlchemy models, one module per aggregate; importing this package registers them all."""

from backend.models.alerts import Notification, Warning
from backend.models.audit import AuditLog
from backend.models.base import Base, utcnow
from backend.models.idempotency import IdempotencyRecord
from backend.models.jobs import JobRun, OutboxMessage
from backend.models.org import OrgUnit
from backend.models.subject import PublicCreditBase, Subject, SubjectChange
from backend.models.upload import Upload, UploadHashBand
from backend.models.user import ActivationCode, Device, RefreshToken, User, UserUnit
from backend.models import scoring, scoring_decisions  # noqa: F401, I001 - the scoring tables (issue 4)
from backend.models import checkin, education, request, service  # noqa: F401, I001 - activities (issue 5)
from backend.models import field  # noqa: F401, I001 - field reports, keywords, suggestions (issue 6)
from backend.models import faces  # noqa: F401, I001 - face references and checks (issue 7)

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
