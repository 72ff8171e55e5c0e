"""staff reads: indexes of the dashboard's 30-day windows (issue 20, part 1)

The dashboard counts the check-in periods decided in the last 30 days from the ledger's period events, and
rebuilds its 30-day trend from the score changes of those days (docs/warnings-and-suggestions.md#dashboard).
Both read a window of time over every subject of the jurisdiction: without an index on the time the ledger
was read in full, or walked subject by subject. ``ix_score_events_rule_occurred`` (rule, time) and
``ix_score_changes_at`` (time) serve those windows; on PostgreSQL they also carry the columns the two
statements read, so the windows are read from the index alone. Downgrade drops them.

Revision ID: 0015_staff_reads
Revises: 0014_level_history
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_staff_reads"
down_revision: str | None = "0014_level_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_score_events_rule_occurred",
            ["rule_code", "occurred_at"],
            unique=False,
            postgresql_include=["subject_id", "status"],
        )
    with op.batch_alter_table("score_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_score_changes_at",
            ["at"],
            unique=False,
            postgresql_include=["subject_id", "total_before", "total_after"],
        )


def downgrade() -> None:
    with op.batch_alter_table("score_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_score_changes_at")
    with op.batch_alter_table("score_events", schema=None) as batch_op:
        batch_op.drop_index("ix_score_events_rule_occurred")
