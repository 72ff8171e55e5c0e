"""subject activities (check-ins, requests, education, community service)

Revision ID: 0004_activities
Revises: 0003_scoring
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import backend.models.base  # noqa: F401

revision: str = "0004_activities"
down_revision: str | None = "0003_scoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
