"""XLA compiler options for the trainers' programs: `jax.jit(f, compiler_options=compiler_options())`."""

from __future__ import annotations

import jax


def compiler_options(backend: str | None = None) -> dict:
    """Copy insertion with region analysis, on the CPU and on GPUs (`backend`: default JAX's).

    A loop body that both writes the replay buffer (the add) and reads it (the sample) made XLA:CPU copy the
    whole buffer on every iteration without it: O(capacity) per env step, 10x slower with a 100k-transition
    MinAtar buffer (measured). XLA's copy insertion is one pass for every backend, with this switch per
    backend; the GPU's is set alike (an XLA debug option of jaxlib's GPU compiler). It changes where copies
    are made, not what is computed."""
    backend = backend or jax.default_backend()
    if backend == "cpu":
        return {"xla_cpu_copy_insertion_use_region_analysis": True}
    if backend in ("gpu", "cuda", "rocm"):
        return {"xla_gpu_copy_insertion_use_region_analysis": True}
    return {}
