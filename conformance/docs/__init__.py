"""Documentation as a spec source: one doc model, three parsers, drift and example replay."""
