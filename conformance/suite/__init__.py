"""The conformance tests that `qmp-conformance run` hands to pytest."""
