"""level history: the supervision level in force over time (issue 19, part 3)

Adds ``supervision_level_history`` (docs/education-and-service.md#level-history) and fills it for every
existing subject: the level they started with, in force from their start date, then one span per recorded
change of ``supervision_level`` (``subject_changes``), each in force from the Asia/Shanghai day of the
change. A subject without a recorded change gets one span of their current level from the start date.
Spans written here have source ``backfill``. Downgrade drops the table.

Revision ID: 0014_level_history
Revises: 0013_delivery
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0014_level_history"
down_revision: str | None = "0013_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = ZoneInfo("Asia/Shanghai")
CHUNK = 1000
TS = backend.models.base.UTCDateTime(timezone=True)

SUBJECTS = sa.table(
    "subjects",
    sa.column("id", sa.Integer),
    sa.column("supervision_level", sa.String),
    sa.column("start_date", sa.Date),
    sa.column("created_at", TS),
    sa.column("created_by", sa.Integer),
)
CHANGES = sa.table(
    "subject_changes",
    sa.column("id", sa.Integer),
    sa.column("subject_id", sa.Integer),
    sa.column("field", sa.String),
    sa.column("old_value", sa.String),
    sa.column("new_value", sa.String),
    sa.column("reason", sa.Text),
    sa.column("changed_by", sa.Integer),
    sa.column("changed_at", TS),
)


def spans(subject: dict, changes: list[dict]) -> list[dict]:
    """The spans of one subject from its current level, start date and recorded level changes (oldest first)."""
    created = subject["created_at"] or datetime.now(UTC)
    first_level = changes[0]["old_value"] if changes else subject["supervision_level"]
    out = [
        {
            "subject_id": subject["id"],
            "level": first_level or subject["supervision_level"],
            "valid_from": subject["start_date"],
            "valid_to": None,
            "changed_at": created,
            "changed_by": subject["created_by"],
            "source": "backfill",
            "reason": None,
        }
    ]
    for c in changes:
        day: date = c["changed_at"].astimezone(TZ).date()
        out[-1]["valid_to"] = max(day, out[-1]["valid_from"])
        out.append(
            {
                "subject_id": subject["id"],
                "level": c["new_value"],
                "valid_from": day,
                "valid_to": None,
                "changed_at": c["changed_at"],
                "changed_by": c["changed_by"],
                "source": "backfill",
                "reason": c["reason"],
            }
        )
    return out


def upgrade() -> None:
    op.create_table(
        "supervision_level_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"], name=op.f("fk_supervision_level_history_changed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_supervision_level_history_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_level_history")),
    )
    with op.batch_alter_table("supervision_level_history", schema=None) as batch_op:
        batch_op.create_index("ix_supervision_level_history_subject_from", ["subject_id", "valid_from"], unique=False)

    conn = op.get_bind()
    history = sa.table(
        "supervision_level_history",
        *[
            sa.column(n, t)
            for n, t in (
                ("subject_id", sa.Integer),
                ("level", sa.String),
                ("valid_from", sa.Date),
                ("valid_to", sa.Date),
                ("changed_at", TS),
                ("changed_by", sa.Integer),
                ("source", sa.String),
                ("reason", sa.Text),
            )
        ],
    )
    after = 0
    while True:
        subjects = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(SUBJECTS).where(SUBJECTS.c.id > after).order_by(SUBJECTS.c.id).limit(CHUNK)
            )
        ]
        if not subjects:
            break
        ids = [x["id"] for x in subjects]
        changes: dict[int, list[dict]] = {}
        for r in conn.execute(
            sa.select(CHANGES)
            .where(CHANGES.c.subject_id.in_(ids), CHANGES.c.field == "supervision_level")
            .order_by(CHANGES.c.subject_id, CHANGES.c.changed_at, CHANGES.c.id)
        ):
            changes.setdefault(r.subject_id, []).append(dict(r._mapping))
        rows = [row for x in subjects for row in spans(x, changes.get(x["id"], []))]
        conn.execute(history.insert(), rows)
        after = ids[-1]


def downgrade() -> None:
    with op.batch_alter_table("supervision_level_history", schema=None) as batch_op:
        batch_op.drop_index("ix_supervision_level_history_subject_from")
    op.drop_table("supervision_level_history")
