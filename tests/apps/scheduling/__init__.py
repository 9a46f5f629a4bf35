"""Tests of the scheduling solver core and its benchmark command."""
