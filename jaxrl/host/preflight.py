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
        learner = make_atari_learner(config.replace(num_seeds=1), *env_spec(config.env_id, config.atari_protocol))
        return tree_bytes(jax.eval_shape(learner.init, seed_keys(config.replace(num_seeds=1))))
    from jaxrl.runners.gymnax import make_train_parts
    return tree_bytes(jax.eval_shape(make_train_parts(config).init, jax.random.PRNGKey(0)))


ATARI_ENV_BYTES = 4 << 20  # host memory of one envpool Atari env (emulator, screens, frame stack): generous
ACTIVATION_FLOATS = {"cnn": 20 * 20 * 32 + 9 * 9 * 64 + 7 * 7 * 64 + 2 * 512}  # per observation, Nature CNN


def eval_bytes(config) -> tuple[int, bool]:
    """-> (bytes the greedy evaluations hold at once, whether on the host): Atari evaluates `eval_episodes` games
    per agent in one envpool (host memory); gymnax plays `eval_episodes` envs per agent inside one compiled
    program (device memory: the envs' state and observations, twice for the loop's carry, plus the network's
    activations), and only with `eval_frequency > 0`."""
    import jax

    from jaxrl.envs.envpool_env import is_envpool_env
    if is_envpool_env(config.env_id):
        return config.num_seeds * config.eval_episodes * ATARI_ENV_BYTES, True
    if not config.eval_frequency:
        return 0, False
    from jaxrl.agents.networks import resolve_network_kind
    from jaxrl.envs import make_vector_env
    env = make_vector_env(config.env_id, config.eval_episodes)
    per_agent = 2 * tree_bytes(jax.eval_shape(env.reset, jax.random.PRNGKey(0)))
    floats = ACTIVATION_FLOATS.get(resolve_network_kind(config, env.obs_shape), sum(config.hidden_sizes))
    per_agent += 4 * config.eval_episodes * (floats + env.num_actions)
    return per_agent * config.sweep_size, False


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
    return _host_memory()


def _host_memory() -> tuple[int | None, str]:
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
    evaluation, on_host = eval_bytes(config)
    free_eval, where_eval = _host_memory() if on_host else (free, where)
    eval_need = evaluation if on_host else need + int(evaluation / max(1, jax.device_count()))
    if evaluation and free_eval is not None and eval_need > free_eval:
        raise ValueError(f"the greedy evaluations need about {_gib(evaluation)} of {where_eval} ({agents} agents x "
                         f"--eval-episodes {config.eval_episodes:,}), {_gib(free_eval)} is free"
                         + ("" if on_host else f" beside the training state's {_gib(need)}")
                         + ": lower --eval-episodes")
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


def check_traceable(config) -> None:
    """Trace (shapes only, a fraction of a second) one agent's gymnax training program before anything is claimed
    or compiled: `ValueError` for a registered env whose step branches in Python on traced values."""
    import jax

    from jaxrl.runners.gymnax import make_train
    try:
        jax.eval_shape(make_train(config.replace(num_seeds=1, grid=())), jax.random.PRNGKey(0))
    except jax.errors.JAXTypeError as e:
        raise ValueError(f"env {config.env_id} cannot be traced by JAX ({type(e).__name__}: "
                         f"{str(e).splitlines()[0]}); jaxrl compiles the env's step into its training "
                         "program") from None


def check_devices(meta: dict) -> None:
    """A resumed run runs on as many devices as it started on (its sharding decides its numbers): `ValueError`."""
    import jax
    saved = (meta.get("devices") or {}).get("count")
    if saved is not None and saved != jax.device_count():
        raise ValueError(f"the run was sharded over {saved} device(s), this process has {jax.device_count()}: "
                         f"resume it with --cpu-devices {saved} (or on a machine with as many devices)")


def resume_devices(run_dir) -> int | None:
    """The device count a run's config.json records (`--resume` then defaults `--cpu-devices` to it)."""
    from jaxrl.host import rundir
    try:
        return (rundir.read_config(run_dir).get("devices") or {}).get("count")
    except (OSError, ValueError):
        return None
