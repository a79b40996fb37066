"""The commands the host-safety table (`strategies/safety.py`) has been checked against.

The table can only confine what it knows about: a command added by a newer QEMU may take a
helper to spawn, a host device or a host path in a member no rule rewrites. So the policy is
fail-closed: a command outside this set is not run with generated arguments (its tests skip,
naming this file) until someone reads its QAPI definition, adds its reaches to the table,
and adds it here.

A review covers the harness's own resources too: a command that removes, yanks, replaces or
reuses something by id (yank, chardev-remove, chardev-change, chardev-send-break,
device_del, netdev_del, object-del, qom-set, ...) could aim at the suite's monitor chardev
`qmp`; `strategies.safety` refuses every value naming one (`conformance.machine.harness`),
whatever the command, so a newly reviewed command needs no rule of its own for that.

Reviewed: every command of QEMU 7.2 (qemu-system-x86_64, -aarch64, -ppc64, -riscv64, -s390x
and qemu-storage-daemon) and of QEMU 10.0 (qemu-system-x86_64, -i386, qemu-storage-daemon).
The 10.0 additions and what the review of their definitions in 10.0.2's schema found:

- block-job-change, blockdev-set-active, device-sync-config, query-audiodevs,
  query-cryptodev, query-hv-balloon-status-report, query-migrationthreads, request-ebpf
  (returns QEMU's built-in RSS program), x-query-interrupt-controllers, xen-event-inject,
  xen-event-list: no host reach;
- cxl-* (cxl-inject-*, cxl-add/release-dynamic-capacity): change an emulated CXL device's
  state, named by its QOM `path` (other strings are confined as host paths);
- new members of existing commands, confined or excluded in the table: `channels` of
  migrate/migrate-incoming (MigrationAddress `transport` exec and rdma excluded, socket and
  file confined), object-add qom-type iommufd and memory-backend-shm (excluded).
"""

from __future__ import annotations

# fmt: off
REVIEWED_COMMANDS: frozenset[str] = frozenset(
    {
        "add-fd", "add_client", "announce-self", "balloon", "block-commit",
        "block-dirty-bitmap-add", "block-dirty-bitmap-clear", "block-dirty-bitmap-disable",
        "block-dirty-bitmap-enable", "block-dirty-bitmap-merge",
        "block-dirty-bitmap-remove", "block-export-add", "block-export-del",
        "block-job-cancel", "block-job-change", "block-job-complete", "block-job-dismiss",
        "block-job-finalize", "block-job-pause", "block-job-resume", "block-job-set-speed",
        "block-latency-histogram-set", "block-set-write-threshold", "block-stream",
        "block_resize", "block_set_io_throttle", "blockdev-add", "blockdev-backup",
        "blockdev-change-medium", "blockdev-close-tray", "blockdev-create", "blockdev-del",
        "blockdev-insert-medium", "blockdev-mirror", "blockdev-open-tray",
        "blockdev-remove-medium", "blockdev-reopen", "blockdev-set-active",
        "blockdev-snapshot", "blockdev-snapshot-delete-internal-sync",
        "blockdev-snapshot-internal-sync", "blockdev-snapshot-sync", "calc-dirty-rate",
        "cancel-vcpu-dirty-limit", "change-backing-file", "change-vnc-password",
        "chardev-add", "chardev-change", "chardev-remove", "chardev-send-break",
        "client_migrate_info", "closefd", "cont", "cxl-add-dynamic-capacity",
        "cxl-inject-correctable-error", "cxl-inject-dram-event",
        "cxl-inject-general-media-event", "cxl-inject-memory-module-event",
        "cxl-inject-poison", "cxl-inject-uncorrectable-errors",
        "cxl-release-dynamic-capacity", "device-list-properties", "device-sync-config",
        "device_add", "device_del", "display-reload", "display-update", "drive-backup",
        "drive-mirror", "dump-guest-memory", "dump-skeys", "dumpdtb", "eject",
        "expire_password", "getfd", "human-monitor-command", "inject-nmi",
        "input-send-event", "job-cancel", "job-complete", "job-dismiss", "job-finalize",
        "job-pause", "job-resume", "memsave", "migrate", "migrate-continue",
        "migrate-incoming", "migrate-pause", "migrate-recover", "migrate-set-capabilities",
        "migrate-set-parameters", "migrate-start-postcopy", "migrate_cancel",
        "nbd-server-add", "nbd-server-remove", "nbd-server-start", "nbd-server-stop",
        "netdev_add", "netdev_del", "object-add", "object-del", "pmemsave",
        "qmp_capabilities", "qom-get", "qom-list", "qom-list-properties", "qom-list-types",
        "qom-set", "query-acpi-ospm-status", "query-audiodevs", "query-balloon",
        "query-block", "query-block-exports", "query-block-jobs", "query-blockstats",
        "query-chardev", "query-chardev-backends", "query-colo-status",
        "query-command-line-options", "query-commands", "query-cpu-definitions",
        "query-cpu-model-baseline", "query-cpu-model-comparison",
        "query-cpu-model-expansion", "query-cpus-fast", "query-cryptodev",
        "query-current-machine", "query-dirty-rate", "query-display-options", "query-dump",
        "query-dump-guest-memory-capability", "query-fdsets", "query-gic-capabilities",
        "query-hotpluggable-cpus", "query-hv-balloon-status-report", "query-iothreads",
        "query-jobs", "query-kvm", "query-machines", "query-memdev", "query-memory-devices",
        "query-memory-size-summary", "query-mice", "query-migrate",
        "query-migrate-capabilities", "query-migrate-parameters", "query-migrationthreads",
        "query-name", "query-named-block-nodes", "query-pci", "query-pr-managers",
        "query-qmp-schema", "query-replay", "query-rocker", "query-rocker-of-dpa-flows",
        "query-rocker-of-dpa-groups", "query-rocker-ports", "query-rx-filter", "query-sev",
        "query-sev-attestation-report", "query-sev-capabilities",
        "query-sev-launch-measure", "query-sgx", "query-sgx-capabilities", "query-spice",
        "query-stats", "query-stats-schemas", "query-status", "query-target", "query-tpm",
        "query-tpm-models", "query-tpm-types", "query-uuid", "query-vcpu-dirty-limit",
        "query-version", "query-vm-generation-id", "query-vnc", "query-vnc-servers",
        "query-xen-replication-status", "query-yank", "quit", "remove-fd", "replay-break",
        "replay-delete-break", "replay-seek", "request-ebpf", "ringbuf-read",
        "ringbuf-write", "rtc-reset-reinjection", "screendump", "send-key", "set-action",
        "set-numa-node", "set-vcpu-dirty-limit", "set_link", "set_password",
        "sev-inject-launch-secret", "snapshot-delete", "snapshot-load", "snapshot-save",
        "stop", "system_powerdown", "system_reset", "system_wakeup",
        "trace-event-get-state", "trace-event-set-state", "transaction",
        "watchdog-set-action", "x-blockdev-amend", "x-blockdev-change",
        "x-blockdev-set-iothread", "x-colo-lost-heartbeat",
        "x-debug-block-dirty-bitmap-sha256", "x-debug-query-block-graph",
        "x-exit-preconfig", "x-query-interrupt-controllers", "x-query-irq", "x-query-jit",
        "x-query-numa", "x-query-opcount", "x-query-profile", "x-query-ramblock",
        "x-query-rdma", "x-query-roms", "x-query-usb", "x-query-virtio",
        "x-query-virtio-queue-element", "x-query-virtio-queue-status",
        "x-query-virtio-status", "x-query-virtio-vhost-queue-status",
        "xen-colo-do-checkpoint", "xen-event-inject", "xen-event-list",
        "xen-load-devices-state", "xen-save-devices-state", "xen-set-global-dirty-log",
        "xen-set-replication", "yank",
    }
)
# fmt: on
