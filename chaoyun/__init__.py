"""Chaoyun (潮云): a self-hostable regional industrial internet platform."""

__version__ = "0.1.0"
