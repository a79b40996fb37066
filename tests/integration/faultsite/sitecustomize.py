"""Installs tests/integration/qemu_fault.py in every Python process of a run whose
PYTHONPATH starts with this directory (see that module)."""

import os
import sys

if os.environ.get("QMPC_FAULT"):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    from tests.integration.qemu_fault import install_from_env

    install_from_env()
