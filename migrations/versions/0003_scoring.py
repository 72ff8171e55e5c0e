"""credit correction score (rule sets, ledger, scores, appeals, merits)

Revision ID: 0003_scoring
Revises: 0002_photo_evidence
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.models.base

revision: str = "0003_scoring"
down_revision: str | None = "0002_photo_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('credit_base_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_credit_base_imports_created_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_base_imports'))
    )
    op.create_index(op.f('ix_credit_base_imports_sha256'), 'credit_base_imports', ['sha256'], unique=False)
    op.create_table('rule_sets',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('published_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recompute_status', sa.String(length=16), nullable=False),
    sa.Column('recompute_done', sa.Integer(), nullable=False),
    sa.Column('recompute_total', sa.Integer(), nullable=False),
    sa.Column('recompute_finished_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['published_by'], ['users.id'], name=op.f('fk_rule_sets_published_by_users')),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_rule_sets'))
    )
    op.create_table('score_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=True),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('total_before', sa.Integer(), nullable=True),
    sa.Column('total_after', sa.Integer(), nullable=False),
    sa.Column('grade_before', sa.String(length=16), nullable=True),
    sa.Column('grade_after', sa.String(length=16), nullable=False),
    sa.Column('base_pending', sa.Boolean(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_score_changes_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_changes'))
    )
    op.create_index('ix_score_changes_subject_at', 'score_changes', ['subject_id', 'at'], unique=False)
    op.create_table('score_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('requested_points', sa.Integer(), nullable=False),
    sa.Column('rule_code', sa.String(length=40), nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('source_kind', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('occurred_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('expires_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('status_changed_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status_ref', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['confirmed_by'], ['users.id'], name=op.f('fk_score_events_confirmed_by_users')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_score_events_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_events')),
    sa.UniqueConstraint('rule_code', 'source_kind', 'source_id', name=op.f('uq_score_events_rule_code_source_kind_source_id'))
    )
    op.create_index('ix_score_events_expiring', 'score_events', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'active' AND expires_at IS NOT NULL"), sqlite_where=sa.text("status = 'active' AND expires_at IS NOT NULL"))
    op.create_index('ix_score_events_subject_rule_month', 'score_events', ['subject_id', 'rule_code', 'month'], unique=False)
    op.create_table('score_releases',
    sa.Column('subject_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('released_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_by', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['released_by'], ['users.id'], name=op.f('fk_score_releases_released_by_users')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_score_releases_subject_id_subjects')),
    sa.PrimaryKeyConstraint('subject_id', name=op.f('pk_score_releases'))
    )
    op.create_table('score_snapshots',
    sa.Column('subject_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=False),
    sa.Column('base_pending', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_score_snapshots_subject_id_subjects')),
    sa.PrimaryKeyConstraint('subject_id', 'day', name=op.f('pk_score_snapshots'))
    )
    op.create_table('subject_scores',
    sa.Column('subject_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('rule_version', sa.Integer(), nullable=False),
    sa.Column('provincial_score', sa.Integer(), nullable=True),
    sa.Column('base_as_of', sa.Date(), nullable=True),
    sa.Column('public_base', sa.Integer(), nullable=False),
    sa.Column('base_pending', sa.Boolean(), nullable=False),
    sa.Column('sum_risk', sa.Integer(), nullable=False),
    sa.Column('sum_employment', sa.Integer(), nullable=False),
    sa.Column('sum_behaviour', sa.Integer(), nullable=False),
    sa.Column('sum_compliance', sa.Integer(), nullable=False),
    sa.Column('sum_public_welfare', sa.Integer(), nullable=False),
    sa.Column('sum_education', sa.Integer(), nullable=False),
    sa.Column('risk', sa.Integer(), nullable=False),
    sa.Column('employment', sa.Integer(), nullable=False),
    sa.Column('behaviour', sa.Integer(), nullable=False),
    sa.Column('compliance', sa.Integer(), nullable=False),
    sa.Column('public_welfare', sa.Integer(), nullable=False),
    sa.Column('education', sa.Integer(), nullable=False),
    sa.Column('management', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=False),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.Column('updated_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_subject_scores_subject_id_subjects')),
    sa.PrimaryKeyConstraint('subject_id', name=op.f('pk_subject_scores'))
    )
    op.create_index(op.f('ix_subject_scores_grade'), 'subject_scores', ['grade'], unique=False)
    op.create_table('employment_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('verified_by', sa.Integer(), nullable=False),
    sa.Column('verified_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['score_events.id'], name=op.f('fk_employment_records_event_id_score_events')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_employment_records_subject_id_subjects')),
    sa.ForeignKeyConstraint(['verified_by'], ['users.id'], name=op.f('fk_employment_records_verified_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employment_records')),
    sa.UniqueConstraint('subject_id', 'kind', 'organisation', 'started_on', name=op.f('uq_employment_records_subject_id_kind_organisation_started_on'))
    )
    op.create_index(op.f('ix_employment_records_subject_id'), 'employment_records', ['subject_id'], unique=False)
    op.create_table('merit_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('rule_code', sa.String(length=40), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decider_role', sa.String(length=10), nullable=False),
    sa.Column('due_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_merit_applications_decided_by_users')),
    sa.ForeignKeyConstraint(['event_id'], ['score_events.id'], name=op.f('fk_merit_applications_event_id_score_events')),
    sa.ForeignKeyConstraint(['office_id'], ['org_units.id'], name=op.f('fk_merit_applications_office_id_org_units')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_merit_applications_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merit_applications'))
    )
    op.create_index(op.f('ix_merit_applications_office_id'), 'merit_applications', ['office_id'], unique=False)
    op.create_index(op.f('ix_merit_applications_status'), 'merit_applications', ['status'], unique=False)
    op.create_index(op.f('ix_merit_applications_subject_id'), 'merit_applications', ['subject_id'], unique=False)
    op.create_table('score_adjustments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('expires_in_days', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('proposed_by', sa.Integer(), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_score_adjustments_decided_by_users')),
    sa.ForeignKeyConstraint(['event_id'], ['score_events.id'], name=op.f('fk_score_adjustments_event_id_score_events')),
    sa.ForeignKeyConstraint(['office_id'], ['org_units.id'], name=op.f('fk_score_adjustments_office_id_org_units')),
    sa.ForeignKeyConstraint(['proposed_by'], ['users.id'], name=op.f('fk_score_adjustments_proposed_by_users')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_score_adjustments_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_adjustments'))
    )
    op.create_index(op.f('ix_score_adjustments_office_id'), 'score_adjustments', ['office_id'], unique=False)
    op.create_index(op.f('ix_score_adjustments_status'), 'score_adjustments', ['status'], unique=False)
    op.create_index(op.f('ix_score_adjustments_subject_id'), 'score_adjustments', ['subject_id'], unique=False)
    op.create_table('score_appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decider_role', sa.String(length=10), nullable=False),
    sa.Column('excluded_user_ids', sa.JSON(), nullable=False),
    sa.Column('due_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', backend.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', backend.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_score_appeals_decided_by_users')),
    sa.ForeignKeyConstraint(['event_id'], ['score_events.id'], name=op.f('fk_score_appeals_event_id_score_events')),
    sa.ForeignKeyConstraint(['office_id'], ['org_units.id'], name=op.f('fk_score_appeals_office_id_org_units')),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], name=op.f('fk_score_appeals_subject_id_subjects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_appeals'))
    )
    op.create_index(op.f('ix_score_appeals_event_id'), 'score_appeals', ['event_id'], unique=False)
    op.create_index(op.f('ix_score_appeals_office_id'), 'score_appeals', ['office_id'], unique=False)
    op.create_index(op.f('ix_score_appeals_status'), 'score_appeals', ['status'], unique=False)
    op.create_index(op.f('ix_score_appeals_subject_id'), 'score_appeals', ['subject_id'], unique=False)
    op.create_index('uq_score_appeals_open_event', 'score_appeals', ['event_id'], unique=True, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index('uq_score_appeals_open_event', table_name='score_appeals', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_score_appeals_subject_id'), table_name='score_appeals')
    op.drop_index(op.f('ix_score_appeals_status'), table_name='score_appeals')
    op.drop_index(op.f('ix_score_appeals_office_id'), table_name='score_appeals')
    op.drop_index(op.f('ix_score_appeals_event_id'), table_name='score_appeals')
    op.drop_table('score_appeals')
    op.drop_index(op.f('ix_score_adjustments_subject_id'), table_name='score_adjustments')
    op.drop_index(op.f('ix_score_adjustments_status'), table_name='score_adjustments')
    op.drop_index(op.f('ix_score_adjustments_office_id'), table_name='score_adjustments')
    op.drop_table('score_adjustments')
    op.drop_index(op.f('ix_merit_applications_subject_id'), table_name='merit_applications')
    op.drop_index(op.f('ix_merit_applications_status'), table_name='merit_applications')
    op.drop_index(op.f('ix_merit_applications_office_id'), table_name='merit_applications')
    op.drop_table('merit_applications')
    op.drop_index(op.f('ix_employment_records_subject_id'), table_name='employment_records')
    op.drop_table('employment_records')
    op.drop_index(op.f('ix_subject_scores_grade'), table_name='subject_scores')
    op.drop_table('subject_scores')
    op.drop_table('score_snapshots')
    op.drop_table('score_releases')
    op.drop_index('ix_score_events_subject_rule_month', table_name='score_events')
    op.drop_index('ix_score_events_expiring', table_name='score_events', postgresql_where=sa.text("status = 'active' AND expires_at IS NOT NULL"), sqlite_where=sa.text("status = 'active' AND expires_at IS NOT NULL"))
    op.drop_table('score_events')
    op.drop_index('ix_score_changes_subject_at', table_name='score_changes')
    op.drop_table('score_changes')
    op.drop_table('rule_sets')
    op.drop_index(op.f('ix_credit_base_imports_sha256'), table_name='credit_base_imports')
    op.drop_table('credit_base_imports')
