"""Devices of a run: split a CPU host into several XLA devices so that a sweep is sharded over its cores."""

from __future__ import annotations


def force_host_devices(n: int) -> None:
    """Split the host into `n` XLA CPU devices (`jax_num_cpu_devices`) so that a sweep is sharded over the cores.
    Only before JAX starts its backends; no effect for `n <= 1`, once the backends exist (then the device count
    is fixed), or when XLA_FLAGS already sets a count. Child processes inherit nothing."""
    import os
    if n <= 1 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    import jax
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # the backends already started (e.g. `main` called inside a program that used JAX)
        pass


def keep_freed_memory() -> bool:
    """glibc only (else a no-op, False): serve large allocations from the heap and keep freed memory there.

    By default glibc maps every allocation over a threshold (at most 32 MiB) afresh from the OS and returns it
    on free, so a program whose temporary buffers exceed it page-faults through them on every call: on XLA:CPU
    the Nature-CNN update with im2col (two convolution passes of 13 MB patches each) ran 30 ms instead of 20
    (batch 32, 2 cores). Freed memory then stays in the process: its RSS is its peak. Process-wide; the
    training CLI and the benchmarks call it before any work."""
    import ctypes
    import sys
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold, limit = -1, -3, 1 << 30
    return bool(mallopt(m_mmap_threshold, limit)) and bool(mallopt(m_trim_threshold, limit))


def prepare_process(num_devices: int = 1) -> dict:
    """Set a process up as `jaxrl train` runs, before any JAX work: `keep_freed_memory()`, then
    `force_host_devices(num_devices)`. For the benchmarks and scripts that run jaxrl's programs in-process, so
    that they time what a run gets. Returns `{"keep_freed_memory": bool}` for a results file's machine info."""
    kept = keep_freed_memory()
    force_host_devices(num_devices)
    return {"keep_freed_memory": kept}
