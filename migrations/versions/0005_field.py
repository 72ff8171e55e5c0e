"""grid field reports, keyword dictionary, suggestions, inbox

Revision ID: 0005_field
Revises: 0004_activities
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import backend.models.base  # noqa: F401

revision: str = "0005_field"
down_revision: str | None = "0004_activities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
