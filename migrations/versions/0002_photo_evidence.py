"""photo evidence (uploads, checks, attachments)

Revision ID: 0002_photo_evidence
Revises: d2296f6fa62b
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import backend.models.base  # noqa: F401

revision: str = "0002_photo_evidence"
down_revision: str | None = "d2296f6fa62b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
