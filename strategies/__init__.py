"""Hypothesis strategies built from the spec model (issue 3)."""
