"""Debian packages of QEMU fetched for testing without installing them
(`qmp-conformance fetch`): a private apt configuration, the packages of one version,
and launchers over their unpacked tree."""
