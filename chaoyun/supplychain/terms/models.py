"""Tables of payment terms: agreed terms per pair of enterprises, invoices, payments, and how much of each
receipt is invoiced.

Money is stored in fen (integers): sums are exact on SQLite and PostgreSQL, and the two guards against
over-invoicing and over-payment are single conditional ``UPDATE`` statements (``invoiced + x <= value``,
``paid + x <= amount``) that two concurrent requests cannot both pass.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chaoyun.db import Base, UTCDateTime, utcnow

ORG_FK = "organisations.id"


class TermsAgreement(Base):
    """Payment terms between a payer (buyer) and a payee (supplier): ``days`` after receipt. Proposed by one
    side, in force once the other accepts; until then the statutory default applies."""

    __tablename__ = "supplychain_terms_agreements"
    __table_args__ = (UniqueConstraint("payer_org_id", "payee_org_id", name="uq_supplychain_terms_agreements_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    payee_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"), index=True)
    days: Mapped[int] = mapped_column(Integer)  # in force (0 until first agreed)
    proposed_days: Mapped[int | None] = mapped_column(Integer)
    proposed_by_org_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="proposed")  # proposed | agreed
    agreed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceiptLedger(Base):
    """How much of a receipt's value is invoiced (one row per invoiced receipt)."""

    __tablename__ = "supplychain_terms_receipt_ledger"

    receipt_id: Mapped[int] = mapped_column(ForeignKey("supplychain_receipts.id", ondelete="CASCADE"), primary_key=True)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    invoiced_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class Invoice(Base):
    """An invoice of the payee (supplier) to the payer (buyer) against one receipt."""

    __tablename__ = "supplychain_terms_invoices"
    __table_args__ = (
        Index("ix_supplychain_terms_invoices_payer", "payer_org_id", "state", "due_on"),
        Index("ix_supplychain_terms_invoices_payee", "payee_org_id", "state", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40))  # the supplier's own invoice number
    receipt_id: Mapped[int] = mapped_column(ForeignKey("supplychain_receipts.id", ondelete="CASCADE"), index=True)
    payer_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    payee_org_id: Mapped[int] = mapped_column(ForeignKey(ORG_FK, ondelete="CASCADE"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_on: Mapped[date] = mapped_column(Date)
    received_on: Mapped[date] = mapped_column(Date)  # local date of the receipt
    terms_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | paid | cancelled
    paid_on: Mapped[date | None] = mapped_column(Date)  # when the last part was paid
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # both parties told it is overdue
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payment(Base):
    """A (partial) payment of an invoice."""

    __tablename__ = "supplychain_terms_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("supplychain_terms_invoices.id", ondelete="CASCADE"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(64), default="")
    recorded_by: Mapped[str] = mapped_column(String(64), default="")
    recorded_by_org_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
