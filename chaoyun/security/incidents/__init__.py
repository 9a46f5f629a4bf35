"""Incidents: hidden danger → alert → response → trace."""
