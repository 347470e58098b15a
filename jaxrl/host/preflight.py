"""Checks before compiling: is there room in memory and on disk for what the run holds and writes?

The sizes are known before anything is compiled: `jax.eval_shape` of the runner's `init` gives every array of
the state (params, target params, optimizer moments, replay buffer, env state), per agent. A run that cannot
fit is refused with the number, instead of failing with an out-of-memory traceback after compiling.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

MEMORY_HEADROOM = 1.5  # the state, plus the chunk's metrics, the compiled program's temporaries and copies
CHECKPOINT_HEADROOM = 2  # a checkpoint is written to a temporary file beside the old one, then renamed
LOG_BYTES = 50 << 20  # CSV files, TensorBoard events, curves: generous for any run


def tree_bytes(tree) -> int:
    import jax
    return int(sum(np.prod(x.shape, dtype=np.int64) * np.dtype(x.dtype).itemsize
                   for x in jax.tree_util.tree_leaves(tree)))


def state_bytes(config) -> int:
    """Bytes of one agent's whole training state (the replay buffer dominates), from shapes alone."""
    import jax

    from jaxrl.envs.envpool_env import is_envpool_env
    if is_envpool_env(config.env_id):
        from jaxrl.envs.envpool_env import env_spec
        from jaxrl.runners.atari import make_atari_learner
        from jaxrl.runners.grid import seed_keys
        learner = make_atari_learner(config.replace(num_seeds=1), env_spec(config.env_id)[0])
        return tree_bytes(jax.eval_shape(learner.init, seed_keys(config.replace(num_seeds=1))))
    from jaxrl.runners.gymnax import make_train_parts
    return tree_bytes(jax.eval_shape(make_train_parts(config).init, jax.random.PRNGKey(0)))


def available_memory() -> tuple[int | None, str]:
    """-> (free bytes where the state will live, its name): the first device's free memory on an accelerator,
    MemAvailable of the host on a CPU; (None, ...) when unknown."""
    import jax
    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0)), f"{device.device_kind} memory"
        return None, str(device)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "host memory (MemAvailable)"
    except OSError:
        pass
    return None, "host memory"


def check_room(config, out_dir: Path) -> dict:
    """Raise `ValueError` (one line, with the numbers) when the run's state cannot fit in free memory or its
    files cannot fit on the disk holding `out_dir`; -> the estimates."""
    import jax

    from jaxrl.envs.envpool_env import is_envpool_env
    atari = is_envpool_env(config.env_id)
    agents = config.num_seeds if atari else config.sweep_size
    per_agent = state_bytes(config)
    need = int(per_agent * agents * MEMORY_HEADROOM / max(1, jax.device_count()))
    free, where = available_memory()
    if free is not None and need > free:
        raise ValueError(f"this run needs about {_gib(need)} of {where} per device ({agents} agents x "
                         f"{_gib(per_agent)} of state, mostly the replay buffer: buffer_size={config.buffer_size:,}), "
                         f"{_gib(free)} is free: lower --buffer-size or --num-seeds")
    saves_buffer = not atari or config.save_buffer
    checkpoint = per_agent * agents if saves_buffer else 0
    disk = int(checkpoint * CHECKPOINT_HEADROOM + LOG_BYTES)
    probe = Path(out_dir)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_disk = shutil.disk_usage(probe if probe.exists() else Path(".")).free
    if disk > free_disk:
        raise ValueError(f"the run directory needs up to {_gib(disk)} on disk (checkpoints of {_gib(checkpoint)}), "
                         f"{_gib(free_disk)} is free under {probe}: free space or choose another --out-dir")
    return {"state_bytes_per_agent": per_agent, "memory_bytes": need, "disk_bytes": disk}


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"
