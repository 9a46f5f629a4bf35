"""Money-and-selection workflows of the programme: service vouchers, innovation subsidies and the
certification reward, shared-service allocation, and demonstration selection; all on one explicit
state machine (``workflow.py``)."""
