"""Shared helpers: build both implementations from one config with the same weights, make batches, compare."""

from __future__ import annotations

import copy
import jax
import jax.numpy as jnp
import numpy as np
import torch

from jaxrl.config import DQNConfig
from jaxrl.agents.dqn import make_agent
from jaxrl.agents.types import Transition
from parity_tests.convert import flax_to_torch, nhwc_to_nchw
from torch_reference.dqn import Agent

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
            "reward": (rng.choice(np.array([-1.0, 0.0, 1.0]), batch_size) * rng.uniform(0.5, 2.0)).astype(np.float32),
            "next_obs": next_obs, "terminated": rng.random(batch_size) < 0.25}


def to_jax(batch: dict) -> Transition:
    return Transition(obs=jnp.asarray(batch["obs"]), action=jnp.asarray(batch["action"]),
                      reward=jnp.asarray(batch["reward"]), next_obs=jnp.asarray(batch["next_obs"]),
                      terminated=jnp.asarray(batch["terminated"]))


def to_torch(batch: dict, kind: str) -> dict:
    out = dict(batch)
    if kind == "cnn":
        out["obs"], out["next_obs"] = nhwc_to_nchw(batch["obs"]), nhwc_to_nchw(batch["next_obs"])
    out["action"] = batch["action"].astype(np.int64)
    return out


def flax_tree_in_torch_layout(tree, like: torch.nn.Module) -> dict:
    """A params-shaped Flax tree (parameters or gradients) converted with the weight rules, keyed like
    `like.state_dict()`."""
    scratch = copy.deepcopy(like)
    flax_to_torch(jax.device_get(tree), scratch)
    return {k: v.numpy() for k, v in scratch.state_dict().items()}


def torch_params(net: torch.nn.Module) -> dict:
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def pong_like_frames(n: int, rng: np.random.Generator) -> np.ndarray:
    """`[n, 84, 84, 4]` uint8 NHWC stacks that look like Pong: a dark field, two paddles, a ball moving
    across the 4 stacked frames."""
    frames = np.full((n, 84, 84, 4), 17, np.uint8)
    frames[:, :8] = frames[:, -6:] = 236  # top and bottom walls
    for i in range(n):
        left, right = rng.integers(10, 66, 2)
        bx, by, vx, vy = rng.integers(15, 65), rng.integers(15, 65), rng.integers(-3, 4), rng.integers(-3, 4)
        for f in range(4):
            frames[i, left:left + 8, 4:6, f] = 147
            frames[i, right:right + 8, 78:80, f] = 92
            y, x = by + f * vy, bx + f * vx
            frames[i, y:y + 2, x:x + 2, f] = 236
    return frames


class SyntheticPongReplay:
    """A small replay pool of Pong-like transitions; `sample(batch_size)` draws uniformly, as in training.
    Unlike pure-noise batches (on which float32 rounding alone is amplified chaotically within ~100 Adam
    steps, even JAX against JAX), the network can fit this data, so two correct implementations stay close."""

    def __init__(self, size: int, rng: np.random.Generator):
        frames = pong_like_frames(size + 1, rng)
        self.rng = rng
        self.data = {"obs": frames[:-1], "next_obs": frames[1:],
                     "action": rng.integers(0, NUM_ACTIONS, size).astype(np.int32),
                     "reward": rng.choice(np.array([-1.0, 0.0, 0.0, 0.0, 1.0], np.float32), size),
                     "terminated": rng.random(size) < 0.05}

    def sample(self, batch_size: int) -> dict:
        idx = self.rng.integers(0, len(self.data["action"]), batch_size)
        return {k: v[idx] for k, v in self.data.items()}
