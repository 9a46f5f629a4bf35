"""programme: cloud adoption and diagnosis tables

Revision ID: programme_0001
Revises:
Create Date: 2026-11-26 13:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "programme_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("programme",)
depends_on: str | Sequence[str] | None = "identity_0001"


def upgrade() -> None:
    op.create_table(
        "programme_cloud_adoptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("provider_name", sa.String(length=200), nullable=False),
        sa.Column("provider_org_id", sa.Integer(), nullable=True),
        sa.Column("contract_no", sa.String(length=64), nullable=False),
        sa.Column("contract_date", sa.Date(), nullable=True),
        sa.Column("contract_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("live_since", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("counted_year", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("declared_by", sa.Integer(), nullable=True),
        sa.Column("declared_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_by", sa.Integer(), nullable=True),
        sa.Column("verified_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("counted_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_programme_cloud_adoptions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_cloud_adoptions")),
    )
    with op.batch_alter_table("programme_cloud_adoptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programme_cloud_adoptions_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_programme_cloud_adoptions_status"), ["status"], unique=False)
        batch_op.create_index("ix_programme_cloud_adoptions_status_year", ["status", "counted_year"], unique=False)

    op.create_table(
        "programme_diagnoses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("questionnaire", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("evidenced", sa.JSON(), nullable=False),
        sa.Column("score", sa.Numeric(precision=6, scale=3), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("scene_levels", sa.JSON(), nullable=False),
        sa.Column("group_scores", sa.JSON(), nullable=False),
        sa.Column("expert_user_id", sa.Integer(), nullable=True),
        sa.Column("expert_summary", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_programme_diagnoses_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_diagnoses")),
    )
    with op.batch_alter_table("programme_diagnoses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programme_diagnoses_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_programme_diagnoses_status"), ["status"], unique=False)
        batch_op.create_index("ix_programme_diagnoses_status_year", ["status", "year"], unique=False)

    op.create_table(
        "programme_diagnosis_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("diagnosis_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expert_user_id", sa.Integer(), nullable=False),
        sa.Column("at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["diagnosis_id"],
            ["programme_diagnoses.id"],
            name=op.f("fk_programme_diagnosis_adjustments_diagnosis_id_programme_diagnoses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_diagnosis_adjustments")),
    )
    with op.batch_alter_table("programme_diagnosis_adjustments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_programme_diagnosis_adjustments_diagnosis_id"), ["diagnosis_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("programme_diagnosis_adjustments")
    op.drop_table("programme_diagnoses")
    op.drop_table("programme_cloud_adoptions")
