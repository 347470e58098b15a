"""The sweep axis: seeds x a hyperparameter grid, as traced values, sharded across devices.

`DQNConfig.grid` (e.g. `("learning_rate=1e-3,3e-4", "gamma=0.99,0.9")`) names values of the traced
hyperparameters (`jaxrl.config.TRACED_FIELDS`); the sweep is every grid point (cartesian product, first entry
slowest) x `num_seeds` seeds, point-major: sweep index `i` is point `i // num_seeds`, seed `i % num_seeds`.
Every point uses the same `num_seeds` keys (common random numbers: points differ only in their
hyperparameters). All of it is one program: `jax.vmap(train)(keys [N], hparams [N])`.

Sharding: the sweep axis is laid out over every visible device with a 1-D `Mesh` ("sweep") and
`NamedSharding(mesh, P("sweep"))`; XLA partitions the vmapped program (SPMD), each device running its slice
of agents. A sweep that does not divide the device count is padded with copies of its last agent, which are
dropped from the results. On one device nothing changes. Multi-host: call `jax.distributed.initialize()`
first (`jaxrl train --distributed`); inputs are built with `jax.make_array_from_callback`, so every process
supplies its own shards, and results are gathered with `process_allgather`.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrl.agents.types import HParams, hparams_of
from jaxrl.config import DQNConfig


def sweep_hparams(config: DQNConfig) -> HParams:
    """`[P * S]` arrays, point-major (float32 / int32)."""
    points = config.grid_points()
    rows = [hparams_of(config.replace(grid=(), **point)) for point in points for _ in range(config.num_seeds)]
    return HParams(*(np.asarray([getattr(r, f) for r in rows],
                                np.int32 if f == "target_update_frequency" else np.float32)
                     for f in HParams._fields))


def seed_keys(config: DQNConfig):
    """The per-seed keys of every run: `split(PRNGKey(seed), num_seeds)` (`[S]` keys)."""
    return jax.random.split(jax.random.PRNGKey(config.seed), config.num_seeds)


def sweep_keys(config: DQNConfig):
    """`[P * S]` keys: `seed_keys` repeated for every grid point (common random numbers across points)."""
    return np.tile(np.asarray(seed_keys(config)), (len(config.grid_points()), 1))


def sweep_labels(config: DQNConfig) -> list[dict]:
    """For every sweep index: its grid point index, seed index and point values."""
    return [{"point": p, "seed": s, **point} for p, point in enumerate(config.grid_points())
            for s in range(config.num_seeds)]


def sweep_sharding():
    """The 1-D mesh over every visible device and the sharding of a leading sweep axis."""
    mesh = Mesh(np.asarray(jax.devices()), ("sweep",))
    return NamedSharding(mesh, PartitionSpec("sweep"))


def padded_size(n: int, num_devices: int | None = None) -> int:
    d = num_devices or len(jax.devices())
    return -(-n // d) * d


def shard_sweep(tree, sharding=None):
    """Pad every leaf's leading sweep axis to a multiple of the device count (copies of the last entry) and lay
    it out over the devices. Returns (sharded tree, original size)."""
    sharding = sharding or sweep_sharding()
    leaves = jax.tree_util.tree_leaves(tree)
    n = leaves[0].shape[0]
    size = padded_size(n, sharding.mesh.size)

    def pad(x):
        x = np.asarray(x)
        return np.concatenate([x, np.repeat(x[-1:], size - n, axis=0)]) if size > n else x

    return place(jax.tree_util.tree_map(pad, tree), sharding), n


def place(tree, sharding=None):
    """Host arrays (the same in every process) -> global arrays laid out by `sharding`; each process supplies
    only its own shards, so this works across processes where `jax.device_put` of a global value may not."""
    sharding = sharding or sweep_sharding()
    return jax.tree_util.tree_map(
        lambda x: jax.make_array_from_callback(np.shape(x), sharding, lambda idx: np.asarray(x)[idx]), tree)


def gather(tree):
    """Global arrays -> host numpy, whole (padding included): every process gets everything (collective)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def unshard(tree, n: int):
    """Gather a sweep-sharded result to host numpy and drop the padding (collective across processes)."""
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[:n], gather(tree))
