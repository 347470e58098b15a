"""The learner's two state transitions shared by the gymnax trainer and the Atari learner.

Both act on any state with the fields `params, target_params, opt_state, replay, key, num_updates,
diverged_at` (`jaxrl.runners.gymnax.TrainState`, `jaxrl.runners.atari.AtariState`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.replay import sumtree as per


def replay_update(state, replay, update, env_steps, *, per_beta: float, total_updates: int):
    """One guarded update (`update`: `guard_update(agent.update)`) on a batch sampled from `state.replay`
    (`replay`: `make_replay`'s functions; prioritized replay's importance exponent annealed from `per_beta` to 1
    over `total_updates`); new priorities are written back unless the seed diverged.
    Returns (state, loss, aux) with the loss's aux metrics (without the priorities)."""
    key, sample_key = jax.random.split(state.key)
    beta = per.beta_schedule(state.num_updates, per_beta, max(1, total_updates))
    batch, slots = replay.sample(state.replay, sample_key, beta)
    params, opt_state, loss, aux, diverged_at = update(state.params, state.target_params, state.opt_state, batch,
                                                       state.diverged_at, env_steps)
    priority = aux.pop("priority")
    return state.replace(params=params, opt_state=opt_state, key=key, num_updates=state.num_updates + 1,
                         diverged_at=diverged_at,
                         replay=replay.set_priorities(state.replay, slots, priority, diverged_at < 0)), loss, aux


def copy_target(state, copy):
    """The hard target copy: `copy` a Python bool (the copy compiled in or out) or a traced bool (a select)."""
    if isinstance(copy, bool):
        return state.replace(target_params=state.params) if copy else state
    return state.replace(target_params=jax.tree_util.tree_map(lambda t, p: jnp.where(copy, p, t),
                                                              state.target_params, state.params))
