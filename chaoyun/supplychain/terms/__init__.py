"""Payment terms under control (账期可控): invoices against receipts, terms agreed per counterpart, due dates,
partial payments, overdue alerts, an aging report per counterpart for each side, and an anonymised view of
overdue amounts per district and cluster for officers. See docs/supply-chain-capacity-terms.md."""
