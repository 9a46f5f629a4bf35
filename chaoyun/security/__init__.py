"""Security services (plan items 18–20): checklists and assessments (one engine for enterprises and the providers'
whitelist), the annual inspection programme, incidents, and (``ids/``) ICS intrusion detection."""
