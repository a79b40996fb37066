"""Documented behaviour as rules: the format (`rule.py`), the runner (`runner.py`) and
the rules for the seeded commands (`rules/`)."""
