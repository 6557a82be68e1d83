"""Helpers shared by several test tiers (importable as ``support`` through pytest's ``pythonpath``)."""
