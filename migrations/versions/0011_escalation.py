"""escalation: overdue notices and expired requests (issue 18, part 2)

Revision ID: 0011_escalation
Revises: 0010_formats
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0011_escalation"
down_revision: str | None = "0010_formats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
