"""Identity context: organisations, people, roles, sessions, API tokens and the audit log."""
