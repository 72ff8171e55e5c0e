"""level history: the supervision level in force over time (issue 19, part 3)

Revision ID: 0014_level_history
Revises: 0013_delivery
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0014_level_history"
down_revision: str | None = "0013_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
