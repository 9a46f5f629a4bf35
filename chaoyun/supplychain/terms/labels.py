"""Codes of payment terms and their (translated) names."""

from __future__ import annotations

from chaoyun.i18n import N_

INVOICE_STATES = {"open": N_("Unpaid"), "paid": N_("Paid in full"), "cancelled": N_("Invoice cancelled")}
TERMS_STATES = {"proposed": N_("Terms proposed"), "agreed": N_("Terms agreed")}
BUCKETS = {
    "not_due": N_("Not yet due"),
    "d0_30": N_("0–30 days overdue"),
    "d31_60": N_("31–60 days overdue"),
    "d61_90": N_("61–90 days overdue"),
    "d90_plus": N_("Over 90 days overdue"),
}
SIDES = {"payee": N_("Owed to us (receivables)"), "payer": N_("We owe (payables)")}
