"""photo evidence (uploads, checks, attachments)

Revision ID: 0002_photo_evidence
Revises: d2296f6fa62b
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0002_photo_evidence"
down_revision: str | None = "d2296f6fa62b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('declared_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('incoming_key', sa.String(length=200), nullable=True),
    sa.Column('upload_expires_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checked_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('format', sa.String(length=8), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('phash', sa.String(length=16), nullable=True),
    sa.Column('derivatives', sa.JSON(), nullable=False),
    sa.Column('record_type', sa.String(length=32), nullable=True),
    sa.Column('record_id', sa.String(length=64), nullable=True),
    sa.Column('attached_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claim', sa.JSON(), nullable=True),
    sa.Column('review_status', sa.String(length=12), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('retention_hold', sa.Boolean(), nullable=False),
    sa.Column('case_closed_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('original_deleted_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_uploads_owner_id_users')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_uploads_reviewed_by_users')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_uploads_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_uploads_storage_key'))
    )
    op.create_index(op.f('ix_uploads_case_closed_at'), 'uploads', ['case_closed_at'], unique=False)
    op.create_index(op.f('ix_uploads_owner_id'), 'uploads', ['owner_id'], unique=False)
    op.create_index(op.f('ix_uploads_review_status'), 'uploads', ['review_status'], unique=False)
    op.create_index(op.f('ix_uploads_status'), 'uploads', ['status'], unique=False)
    op.create_index('ix_uploads_status_expires', 'uploads', ['status', 'upload_expires_at'], unique=False)
    op.create_index(op.f('ix_uploads_subject_id'), 'uploads', ['subject_id'], unique=False)
    op.create_table('upload_hash_bands',
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('band', sa.SmallInteger(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_upload_hash_bands_subject_id_subjects')),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_upload_hash_bands_upload_id_uploads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('upload_id', 'band', name=op.f('pk_upload_hash_bands'))
    )
    op.create_index('ix_upload_hash_bands_lookup', 'upload_hash_bands', ['subject_id', 'band', 'value'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_upload_hash_bands_lookup', table_name='upload_hash_bands')
    op.drop_table('upload_hash_bands')
    op.drop_index(op.f('ix_uploads_subject_id'), table_name='uploads')
    op.drop_index('ix_uploads_status_expires', table_name='uploads')
    op.drop_index(op.f('ix_uploads_status'), table_name='uploads')
    op.drop_index(op.f('ix_uploads_review_status'), table_name='uploads')
    op.drop_index(op.f('ix_uploads_owner_id'), table_name='uploads')
    op.drop_index(op.f('ix_uploads_case_closed_at'), table_name='uploads')
    op.drop_table('uploads')
