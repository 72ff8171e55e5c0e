"""release: the export record for the provincial platform and its handover (issue 18, part 3)

Revision ID: 0012_release
Revises: 0011_escalation
Create Date: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0012_release"
down_revision: str | None = "0011_escalation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
