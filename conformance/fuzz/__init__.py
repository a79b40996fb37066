"""Fuzz mode: generate continuously across every command and both state machines.

`run.py` is the parent process (workers, deadline, Ctrl-C, findings store, exit
status), `worker.py` one worker process (chunks of Hypothesis examples on its own
QEMUs), `tally.py` the counts and the lines the parent prints.
"""

from conformance.fuzz.run import cmd_fuzz

__all__ = ["cmd_fuzz"]
