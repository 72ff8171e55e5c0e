"""release: the export record for the provincial platform and its handover (issue 18, part 3)

``release_exports``: one row per released subject with the Ed25519 signature of its export record (made at
release with a key outside the database) and the record's handover to the provincial platform.

Revision ID: 0012_release
Revises: 0011_escalation
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0012_release"
down_revision: str | None = "0011_escalation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "release_exports",
        sa.Column("subject_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("signing_key_id", sa.String(length=16), nullable=False),
        sa.Column("recipient_key_id", sa.String(length=16), nullable=True),
        sa.Column("signed_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handed_over_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handed_over_by", sa.Integer(), nullable=True),
        sa.Column("handover_reference", sa.String(length=100), nullable=True),
        sa.Column("handover_note", sa.Text(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["handed_over_by"], ["users.id"], name=op.f("fk_release_exports_handed_over_by_users")
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_release_exports_subject_id_subjects")),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_release_exports")),
    )


def downgrade() -> None:
    op.drop_table("release_exports")
