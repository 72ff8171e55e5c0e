"""idempotency keys scoped to the resource their create's path names

Revision ID: 0009_idempotency_scope
Revises: 0007_uploads_fillfactor
Create Date: 2026-12-07

Adds ``idempotency_records.resource`` (the path's ids, "subject_id=1"; "" for a path without ids) and
makes it part of the unique key (docs/audit-and-privacy.md#idempotent-creates). Records written before
keep "": a path without ids matches them as before; a create on a path with ids no longer replays them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_idempotency_scope"
down_revision: str | None = "0007_uploads_fillfactor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource", sa.String(length=64), server_default="", nullable=False))
        batch_op.drop_constraint("uq_idempotency_records_user_id_scope_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_idempotency_records_user_id_scope_resource_key", ["user_id", "scope", "resource", "key"]
        )


def downgrade() -> None:
    # keys of one user and kind on several resources cannot share the old key: keep the earliest of each
    op.execute(
        "DELETE FROM idempotency_records WHERE id NOT IN "
        "(SELECT MIN(id) FROM idempotency_records GROUP BY user_id, scope, key)"
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_constraint("uq_idempotency_records_user_id_scope_resource_key", type_="unique")
        batch_op.create_unique_constraint("uq_idempotency_records_user_id_scope_key", ["user_id", "scope", "key"])
        batch_op.drop_column("resource")
