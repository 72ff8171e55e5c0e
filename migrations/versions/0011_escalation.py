"""escalation: overdue notices and expired requests (issue 18, part 2)

Revision ID: 0011_escalation
Revises: 0010_formats
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0011_escalation"
down_revision: str | None = "0010_formats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "overdue_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("due_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["office_id"], ["org_units.id"], name=op.f("fk_overdue_notices_office_id_org_units")),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_overdue_notices_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overdue_notices")),
        sa.UniqueConstraint(
            "item_kind", "item_id", "stage", "due_at", name=op.f("uq_overdue_notices_item_kind_item_id_stage_due_at")
        ),
    )
    op.create_index(op.f("ix_overdue_notices_subject_id"), "overdue_notices", ["subject_id"], unique=False)
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("from_role", sa.String(length=8), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("overdue_since", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_escalations_decided_by_users")),
        sa.ForeignKeyConstraint(["office_id"], ["org_units.id"], name=op.f("fk_escalations_office_id_org_units")),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_escalations_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
    )
    op.create_index("ix_escalations_item", "escalations", ["item_kind", "item_id"], unique=False)
    op.create_index(op.f("ix_escalations_subject_id"), "escalations", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_escalations_subject_id"), table_name="escalations")
    op.drop_index("ix_escalations_item", table_name="escalations")
    op.drop_table("escalations")
    op.drop_index(op.f("ix_overdue_notices_subject_id"), table_name="overdue_notices")
    op.drop_table("overdue_notices")
