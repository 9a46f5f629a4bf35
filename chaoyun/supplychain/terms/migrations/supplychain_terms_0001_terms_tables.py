"""payment terms: agreements, receipt ledger, invoices, payments

Revision ID: supplychain_terms_0001
Revises:
Create Date: 2026-12-03 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import chaoyun.db

revision: str = "supplychain_terms_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("supplychain_terms",)
depends_on: str | Sequence[str] | None = ["identity_0001", "supplychain_0001"]

ORG = "organisations.id"


def _fk(table: str, col: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    ref = target.split(".")[0]
    return sa.ForeignKeyConstraint([col], [target], name=op.f(f"fk_{table}_{col}_{ref}"), ondelete=ondelete)


def upgrade() -> None:
    t = "supplychain_terms_agreements"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payer_org_id", sa.Integer(), nullable=False),
        sa.Column("payee_org_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("proposed_days", sa.Integer(), nullable=True),
        sa.Column("proposed_by_org_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("agreed_at", chaoyun.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        _fk(t, "payee_org_id", ORG),
        _fk(t, "payer_org_id", ORG),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("payer_org_id", "payee_org_id", name="uq_supplychain_terms_agreements_pair"),
    )
    op.create_index(op.f(f"ix_{t}_payer_org_id"), t, ["payer_org_id"], unique=False)
    op.create_index(op.f(f"ix_{t}_payee_org_id"), t, ["payee_org_id"], unique=False)

    t = "supplychain_terms_receipt_ledger"
    op.create_table(
        t,
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("invoiced_fen", sa.BigInteger(), nullable=False),
        _fk(t, "receipt_id", "supplychain_receipts.id"),
        sa.PrimaryKeyConstraint("receipt_id", name=op.f(f"pk_{t}")),
    )

    t = "supplychain_terms_invoices"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("payer_org_id", sa.Integer(), nullable=False),
        sa.Column("payee_org_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("terms_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        _fk(t, "payee_org_id", ORG),
        _fk(t, "payer_org_id", ORG),
        _fk(t, "receipt_id", "supplychain_receipts.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index(op.f(f"ix_{t}_receipt_id"), t, ["receipt_id"], unique=False)
    op.create_index("ix_supplychain_terms_invoices_payer", t, ["payer_org_id", "state", "due_on"], unique=False)
    op.create_index("ix_supplychain_terms_invoices_payee", t, ["payee_org_id", "state", "due_on"], unique=False)

    t = "supplychain_terms_payments"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_by_org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", chaoyun.db.UTCDateTime(timezone=True), nullable=False),
        _fk(t, "invoice_id", "supplychain_terms_invoices.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index(op.f(f"ix_{t}_invoice_id"), t, ["invoice_id"], unique=False)


def downgrade() -> None:
    op.drop_table("supplychain_terms_payments")
    op.drop_table("supplychain_terms_invoices")
    op.drop_table("supplychain_terms_receipt_ledger")
    op.drop_table("supplychain_terms_agreements")
