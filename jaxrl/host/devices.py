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
