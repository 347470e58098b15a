"""Load a trained agent from a run directory as a plain greedy policy."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.agents.networks import make_network
from jaxrl.host.rundir import BEST_PARAMS_FILE, PARAMS_FILE, read_dqn_config


def load_policy(run_dir, seed_index: int = 0, which: str = "final") -> Callable[[np.ndarray], int]:
    """`act(obs) -> int`: the greedy action of agent `seed_index`'s Q-network: its final parameters
    (`which="final"`, params.msgpack) or its best-evaluated ones (`which="best"`, params_best.msgpack, written by
    runs with `--eval-frequency`).

    `obs` is one observation shaped like the env's (no batch axis), e.g. `[4]` for CartPole.
    """
    path = Path(run_dir) / "config.json"
    meta, config = read_dqn_config(run_dir)
    try:
        env = meta["env"]
        obs_shape, obs_dtype, num_actions = tuple(env["obs_shape"]), np.dtype(env["obs_dtype"]), int(env["num_actions"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: its \"env\" entry is damaged ({type(e).__name__}: {e})") from None
    if isinstance(seed_index, bool) or not isinstance(seed_index, (int, np.integer)):
        raise ValueError(f"seed_index={seed_index!r}: expected an integer (the agent's index)")
    if not 0 <= seed_index < config.sweep_size:
        raise ValueError(f"seed_index={seed_index} out of range: the run has {config.sweep_size} agent(s)")
    network = make_network(config, num_actions, obs_shape)
    template = network.init(jax.random.PRNGKey(0), jnp.zeros((1, *obs_shape), obs_dtype))
    stacked_template = jax.tree_util.tree_map(lambda x: np.zeros((config.sweep_size, *x.shape), x.dtype), template)
    from flax import serialization
    if which not in ("final", "best"):
        raise ValueError(f"which={which!r}: expected 'final' or 'best'")
    path = Path(run_dir) / (PARAMS_FILE if which == "final" else BEST_PARAMS_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no parameters there (" + ("the run did not finish)" if which == "final" else
                                "the run made no greedy evaluations: train with --eval-frequency N)"))
    try:
        stacked = serialization.from_bytes(stacked_template, path.read_bytes())
    except Exception as e:  # msgpack and flax raise several types for truncated or foreign data
        raise ValueError(f"{path}: damaged or not this run's parameters ({type(e).__name__})") from None
    bad = [np.shape(a) for a, b in zip(jax.tree_util.tree_leaves(stacked), jax.tree_util.tree_leaves(stacked_template))
           if np.shape(a) != np.shape(b)]
    if bad:
        raise ValueError(f"{path}: parameter shapes differ from the run's config ({bad[0]})")
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x[seed_index]), stacked)
    q_fn = jax.jit(lambda p, o: network.apply(p, o[None]).q_values[0])

    def act(obs: np.ndarray) -> int:
        obs = np.asarray(obs, dtype=obs_dtype)
        if obs.shape != obs_shape:
            raise ValueError(f"act: observation shape {obs.shape} != the run's {obs_shape}")
        return int(jnp.argmax(q_fn(params, obs)))

    return act
