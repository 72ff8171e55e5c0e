"""credit correction score (rule sets, ledger, scores, appeals, merits)

Revision ID: 0003_scoring
Revises: 0002_photo_evidence
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import backend.models.base  # noqa: F401

revision: str = "0003_scoring"
down_revision: str | None = "0002_photo_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
