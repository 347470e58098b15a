"""Shared helpers: build both implementations from one config with the same weights, make batches, compare."""

from __future__ import annotations

import copy
import jax
import jax.numpy as jnp
import numpy as np
import torch

from jaxrl.config import DQNConfig
from jaxrl.train import Transition, make_agent
from parity_tests.convert import flax_to_torch, nhwc_to_nchw
from torch_reference.agent import Agent

NUM_ACTIONS = 6
MLP_OBS = (4,)
CNN_OBS_NHWC = (84, 84, 4)


def obs_shapes(kind: str):
    """(jaxrl obs shape, torch obs shape)."""
    return (MLP_OBS, MLP_OBS) if kind == "mlp" else (CNN_OBS_NHWC, (4, 84, 84))


def rel_err(a, b) -> float:
    """max |a - b| / max |b|: the relative error of a tensor (elementwise relative error is meaningless
    for entries near zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def build_pair(config: DQNConfig, seed: int = 0):
    """A jaxrl agent and a torch_reference Agent whose online and target networks hold equal weights
    (online and target differ from each other, so targets are non-trivial)."""
    kind = config.network
    jax_obs, torch_obs = obs_shapes(kind)
    jagent = make_agent(config, NUM_ACTIONS, jax_obs)
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    dummy = jnp.zeros((1, *jax_obs), jnp.uint8 if kind == "cnn" else jnp.float32)
    params = jagent.network.init(k1, dummy)
    target_params = jagent.network.init(k2, dummy)
    tagent = Agent(config, NUM_ACTIONS, torch_obs, seed=seed)
    flax_to_torch(params, tagent.network)
    flax_to_torch(target_params, tagent.target_network)
    return jagent, params, target_params, tagent


def random_batch(kind: str, batch_size: int, rng: np.random.Generator) -> dict:
    """A jaxrl-layout batch (NHWC uint8 frames for the CNN). Rewards are +-1 or 0 like clipped Atari;
    about a quarter of transitions are terminal."""
    jax_obs, _ = obs_shapes(kind)
    if kind == "cnn":
        obs = rng.integers(0, 256, (batch_size, *jax_obs), dtype=np.uint8)
        next_obs = rng.integers(0, 256, (batch_size, *jax_obs), dtype=np.uint8)
    else:
        obs = rng.normal(size=(batch_size, *jax_obs)).astype(np.float32)
        next_obs = rng.normal(size=(batch_size, *jax_obs)).astype(np.float32)
    return {"obs": obs, "action": rng.integers(0, NUM_ACTIONS, batch_size).astype(np.int32),
            "reward": rng.choice(np.array([-1.0, 0.0, 1.0], np.float32), batch_size) * rng.uniform(0.5, 2.0),
            "next_obs": next_obs, "terminated": rng.random(batch_size) < 0.25}


def to_jax(batch: dict) -> Transition:
    return Transition(obs=jnp.asarray(batch["obs"]), action=jnp.asarray(batch["action"]),
                      reward=jnp.asarray(batch["reward"], jnp.float32), next_obs=jnp.asarray(batch["next_obs"]),
                      terminated=jnp.asarray(batch["terminated"]))


def to_torch(batch: dict, kind: str) -> dict:
    out = dict(batch)
    if kind == "cnn":
        out["obs"], out["next_obs"] = nhwc_to_nchw(batch["obs"]), nhwc_to_nchw(batch["next_obs"])
    out["action"] = batch["action"].astype(np.int64)
    out["reward"] = batch["reward"].astype(np.float32)
    return out


def grads_in_torch_layout(grads, like: torch.nn.Module) -> dict:
    """JAX grads (a params-shaped tree) converted with the weight rules, keyed like `like.state_dict()`."""
    scratch = copy.deepcopy(like)
    flax_to_torch(jax.device_get(grads), scratch)
    return {k: v.numpy() for k, v in scratch.state_dict().items()}


def torch_params(net: torch.nn.Module) -> dict:
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
