"""delivery: per-channel delivery state of notifications, reminders sent once (issue 19, parts 1-2)

Revision ID: 0013_delivery
Revises: 0012_release
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0013_delivery"
down_revision: str | None = "0012_release"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
