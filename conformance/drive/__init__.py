"""The drivers: what runs commands against a QEMU and judges the replies, with no pytest.

The suite's tests (`conformance/suite`), fuzz, diff and the benchmarks all call these;
none of them imports a test module.
"""
