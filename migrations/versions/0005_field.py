"""grid field reports, keyword dictionary, suggestions, inbox

Revision ID: 0005_field
Revises: 0004_activities
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0005_field"
down_revision: str | None = "0004_activities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('keyword_dictionaries',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('published_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['published_by'], ['users.id'], name=op.f('fk_keyword_dictionaries_published_by_users')),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_keyword_dictionaries'))
    )
    op.create_table('suggestion_trigger_sets',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('published_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['published_by'], ['users.id'], name=op.f('fk_suggestion_trigger_sets_published_by_users')),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_suggestion_trigger_sets'))
    )
    op.create_table('end_date_reminders',
    sa.Column('subject_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('days_before', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('sent_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_end_date_reminders_subject_id_subjects')),
    sa.PrimaryKeyConstraint('subject_id', 'days_before', 'end_date', name=op.f('pk_end_date_reminders'))
    )
    op.create_table('suggestions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('rationale', sa.JSON(), nullable=False),
    sa.Column('trigger_version', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('due_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('dismiss_reason', sa.String(length=32), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_suggestions_decided_by_users')),
    sa.ForeignKeyConstraint(['office_id'], ['org_units.id'], name=op.f('fk_suggestions_office_id_org_units')),
    sa.ForeignKeyConstraint(['officer_id'], ['users.id'], name=op.f('fk_suggestions_officer_id_users')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_suggestions_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestions'))
    )
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestions_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestions_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestions_officer_id'), ['officer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestions_status'), ['status'], unique=False)
        batch_op.create_index('ix_suggestions_subject_kind_closed', ['subject_id', 'kind', 'closed_at'], unique=False)
        batch_op.create_index('uq_suggestions_live_kind', ['subject_id', 'kind'], unique=True, sqlite_where=sa.text("status IN ('open', 'accepted')"), postgresql_where=sa.text("status IN ('open', 'accepted')"))

    op.create_table('field_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('observed_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('upload_ids', sa.JSON(), nullable=False),
    sa.Column('classification', sa.JSON(), nullable=False),
    sa.Column('dictionary_version', sa.Integer(), nullable=False),
    sa.Column('polarity', sa.String(length=10), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=True),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('warning_id', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grid_id'], ['org_units.id'], name=op.f('fk_field_reports_grid_id_org_units')),
    sa.ForeignKeyConstraint(['office_id'], ['org_units.id'], name=op.f('fk_field_reports_office_id_org_units')),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_field_reports_reporter_id_users')),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_field_reports_reviewed_by_users')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_field_reports_subject_id_subjects')),
    sa.ForeignKeyConstraint(['warning_id'], ['warnings.id'], name=op.f('fk_field_reports_warning_id_warnings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_field_reports')),
    sa.UniqueConstraint('reporter_id', 'client_id', name=op.f('uq_field_reports_reporter_id_client_id'))
    )
    with op.batch_alter_table('field_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_reports_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_field_reports_polarity'), ['polarity'], unique=False)
        batch_op.create_index(batch_op.f('ix_field_reports_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_field_reports_status'), ['status'], unique=False)
        batch_op.create_index('ix_field_reports_subject_observed', ['subject_id', 'observed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('field_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_field_reports_subject_observed')
        batch_op.drop_index(batch_op.f('ix_field_reports_status'))
        batch_op.drop_index(batch_op.f('ix_field_reports_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_field_reports_polarity'))
        batch_op.drop_index(batch_op.f('ix_field_reports_office_id'))

    op.drop_table('field_reports')
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.drop_index('uq_suggestions_live_kind', sqlite_where=sa.text("status IN ('open', 'accepted')"), postgresql_where=sa.text("status IN ('open', 'accepted')"))
        batch_op.drop_index('ix_suggestions_subject_kind_closed')
        batch_op.drop_index(batch_op.f('ix_suggestions_status'))
        batch_op.drop_index(batch_op.f('ix_suggestions_officer_id'))
        batch_op.drop_index(batch_op.f('ix_suggestions_office_id'))
        batch_op.drop_index(batch_op.f('ix_suggestions_category'))

    op.drop_table('suggestions')
    op.drop_table('end_date_reminders')
    op.drop_table('suggestion_trigger_sets')
    op.drop_table('keyword_dictionaries')
