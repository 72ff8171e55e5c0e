"""uploads keep room on each page for in-place (HOT) updates (PostgreSQL)

An upload row is updated several times in its life (completed, checked, attached, reviewed) while its
indexed columns mostly stay as they were. With the default fillfactor of 100 every such update moves
the row to another page and adds an entry to each of the table's eight indexes; with room left on the
page PostgreSQL updates in place (a HOT update) and touches no index. SQLite has no such setting.

Revision ID: 0007_uploads_fillfactor
Revises: 0006_faces
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_uploads_fillfactor"
down_revision: str | None = "0006_faces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 80


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # applies to pages written from now on; existing pages gain room as VACUUM and updates free it
        op.execute(f"ALTER TABLE uploads SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE uploads RESET (fillfactor)")
