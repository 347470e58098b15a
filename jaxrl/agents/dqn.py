"""The DQN agent: network, optimizer and the jittable update for a config, env-independent.

Variants enter only through the loss (`jaxrl.agents.losses.make_loss` picks double DQN's and C51's targets and
loss; n-step discounts and importance weights come in the batch), the network (dueling, C51 heads) and the
optimizer: `make_agent` is the one place they are assembled. `guard_update` wraps an update with the per-seed
NaN/Inf guard; `target_update_due` is the hard target copy's schedule.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from jaxrl.agents.exploration import epsilon_greedy
from jaxrl.agents.losses import make_loss
from jaxrl.agents.networks import make_network
from jaxrl.agents.optim import make_optimizer
from jaxrl.agents.types import HParams, Transition, hparams_of
from jaxrl.config import DQNConfig


class Agent(NamedTuple):
    """The pure pieces `make_train` assembles; exposed for tests, the parity suite and the Pong loops."""

    network: Any
    optimizer: optax.GradientTransformation
    loss_fn: Callable  # (params, target_params, batch) -> (loss, aux)
    update: Callable  # (params, target_params, opt_state, batch) -> (params, opt_state, loss, aux)
    # aux: the loss's (q_mean, priority) and grads_finite (for `guard_update`)


def target_update_due(env_steps, steps_since_last_check, period):
    """True when the env-step counter crossed a multiple of `period` during the last
    `steps_since_last_check` env steps (the hard target copy is due)."""
    return env_steps // period > (env_steps - steps_since_last_check) // period


def all_finite(tree) -> jnp.ndarray:
    """True when every element of every leaf is finite."""
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def guard_update(update: Callable) -> Callable:
    """The NaN/Inf guard around `Agent.update`:

        (params, target_params, opt_state, batch, diverged_at, env_steps)
            -> (params, opt_state, loss, aux, diverged_at)

    An update whose loss or gradients are not finite is dropped (params and optimizer state stay the last
    finite ones) and `diverged_at` records `env_steps`; once diverged (`>= 0`) an agent makes no more updates.
    In a vmapped sweep this is per seed: the others go on. Finite gradients give finite optimizer moments and a
    finite step, so the new parameters are finite unless adding that step overflows float32 (|values| near
    3e38, a learning rate near 1e38); the following update's loss is then not finite and the seed stops there.
    The decision comes from the gradients, before the optimizer's step, so XLA fuses it into that step: deciding
    from the new parameters costs a second pass over parameters and optimizer state (docs/reliability.md)."""
    def guarded(params, target_params, opt_state, batch, diverged_at, env_steps):
        new_params, new_opt_state, loss, aux = update(params, target_params, opt_state, batch)
        aux = dict(aux)
        healthy = diverged_at < 0
        ok = healthy & jnp.isfinite(loss) & aux.pop("grads_finite")
        keep = lambda new, old: jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, old)  # noqa: E731
        diverged_at = jnp.where(healthy & ~ok, jnp.asarray(env_steps, jnp.int32), diverged_at)
        return keep(new_params, params), keep(new_opt_state, opt_state), loss, aux, diverged_at

    return guarded


def make_agent(config: DQNConfig, num_actions: int, obs_shape, *, hparams: Optional[HParams] = None) -> Agent:
    """Network, optimizer and the jittable DQN update for a config (env-independent). `hparams`: traced
    values of learning rate and gamma (a grid sweep); default: the config's, as constants."""
    hp = hparams_of(config) if hparams is None else hparams
    network = make_network(config, num_actions, obs_shape)
    optimizer = make_optimizer(config, hp.learning_rate)

    variant_loss = make_loss(config)

    def loss_fn(params, target_params, batch: Transition):
        """-> (loss, aux); aux["priority"] `[B]`: |TD error|, or the C51 cross-entropy (for prioritized replay)."""
        if config.double_dqn:
            # One online pass over [s_{t-1}; s_t]; only the s_{t-1} rows carry a gradient (`grad_rows`), so the
            # backward products run over B rows, not 2B (`jaxrl.agents.layers`).
            b = batch.obs.shape[0]
            out = network.apply(params, jnp.concatenate([batch.obs, batch.next_obs]), grad_rows=b)
            out_tm1 = jax.tree_util.tree_map(lambda x: x[:b], out)
            q_t_online = jax.lax.stop_gradient(out.q_values[b:])
        else:
            out_tm1, q_t_online = network.apply(params, batch.obs), None
        out_t_target = network.apply(target_params, batch.next_obs)
        if batch.discount is None:
            discount_t = hp.gamma * (1.0 - batch.terminated.astype(batch.reward.dtype))
        else:
            discount_t = batch.discount
        out = variant_loss(out_tm1, out_t_target, q_t_online, batch.action, batch.reward, discount_t, batch.weight)
        return out.loss, {"q_mean": jnp.mean(out_tm1.q_values), "priority": out.priority}

    def update(params, target_params, opt_state, batch: Transition):
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, target_params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, {**aux, "grads_finite": all_finite(grads)}

    return Agent(network, optimizer, loss_fn, update)


def act(network, params, obs, key, epsilon):
    """The one epsilon-greedy acting rule: `obs: [B, ...]` (NHWC images) -> actions `[B]` int32, a uniformly random
    action with probability `epsilon`, else the greedy one by the network's `q_values` (for C51 the mean over
    atoms)."""
    return epsilon_greedy(key, network.apply(params, obs).q_values, epsilon)
