"""face references and face checks

Revision ID: 0006_faces
Revises: 0005_field
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base  # noqa: F401

revision: str = "0006_faces"
down_revision: str | None = "0005_field"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('face_references',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('descriptor_enc', sa.Text(), nullable=True),
    sa.Column('model', sa.String(length=40), nullable=False),
    sa.Column('face_box', sa.JSON(), nullable=False),
    sa.Column('legal_basis', sa.String(length=20), nullable=False),
    sa.Column('legal_basis_text', sa.Text(), nullable=False),
    sa.Column('notice_version', sa.String(length=40), nullable=False),
    sa.Column('notice_given_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_by', sa.Integer(), nullable=True),
    sa.Column('delete_reason', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_face_references_created_by_users')),
    sa.ForeignKeyConstraint(['deleted_by'], ['users.id'], name=op.f('fk_face_references_deleted_by_users')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_face_references_subject_id_subjects')),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_face_references_upload_id_uploads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_references'))
    )
    op.create_index('ix_face_references_subject_active', 'face_references', ['subject_id', 'deleted_at'], unique=False)
    op.create_index(op.f('ix_face_references_upload_id'), 'face_references', ['upload_id'], unique=False)
    op.create_table('face_checks',
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('result', sa.String(length=20), nullable=True),
    sa.Column('distance', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('reference_id', sa.Integer(), nullable=True),
    sa.Column('references_compared', sa.SmallInteger(), nullable=False),
    sa.Column('faces_found', sa.SmallInteger(), nullable=False),
    sa.Column('face_px', sa.SmallInteger(), nullable=True),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('checked_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['reference_id'], ['face_references.id'], name=op.f('fk_face_checks_reference_id_face_references')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_face_checks_subject_id_subjects')),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_face_checks_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_face_checks'))
    )
    op.create_index(op.f('ix_face_checks_subject_id'), 'face_checks', ['subject_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_face_checks_subject_id"), table_name="face_checks")
    op.drop_table("face_checks")
    op.drop_index(op.f("ix_face_references_upload_id"), table_name="face_references")
    op.drop_index("ix_face_references_subject_active", table_name="face_references")
    op.drop_table("face_references")
