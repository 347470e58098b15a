"""The course's DQN agent: `select_action` and `optimize`, imperative PyTorch."""

from __future__ import annotations

import numpy as np
import torch

from jaxrl.config import DQNConfig
from torch_reference.exploration import epsilon_greedy, make_epsilon_schedule
from torch_reference.losses import make_loss
from torch_reference.networks import make_network
from torch_reference.optim import clip_gradients, make_optimizer, make_schedule


class Agent:
    """Online and target Q-networks, the optimizer and the epsilon schedule for one seed.

    `optimize(batch, env_steps)` does one update: targets under `no_grad`, loss, `backward`, optional
    `grad.clamp_(-1, 1)`, optimizer step, and the hard target copy when the env-step counter has crossed
    a multiple of `target_update_frequency` since the last call that passed `env_steps`.
    """

    def __init__(self, config: DQNConfig, num_actions: int, obs_shape, device="cpu", seed: int = 0):
        self.config = config
        self.device = torch.device(device)
        torch.manual_seed(seed)
        self.network = make_network(config, num_actions, obs_shape).to(self.device)
        self.target_network = make_network(config, num_actions, obs_shape).to(self.device)
        self.update_target()
        self.optimizer = make_optimizer(config, self.network.parameters())
        self.schedule = make_schedule(config, self.optimizer)
        self.epsilon = make_epsilon_schedule(config.epsilon_schedule, config.egreedy, config.egreedy_final,
                                             config.egreedy_decay)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.num_updates = 0
        self.last_target_check = config.learning_starts

    def update_target(self) -> None:
        self.target_network.load_state_dict(self.network.state_dict())

    def select_action(self, obs: np.ndarray, env_steps: int) -> np.ndarray:
        """`obs: [E, *obs_shape]` -> actions `[E]`, epsilon-greedy at the schedule's epsilon(env_steps)."""
        with torch.no_grad():
            q = self.network(torch.as_tensor(obs, device=self.device)).q_values
            return epsilon_greedy(q, self.epsilon(env_steps), self.generator).cpu().numpy()

    def compute_loss(self, batch: dict, return_priorities: bool = False):
        """The loss on `batch` (numpy arrays: obs, action, reward, next_obs, terminated; optional `discount`,
        the n-step bootstrap discount, and `weight`, importance weights), targets under `no_grad`. C51 with
        `config.distributional`. With `return_priorities`: also |TD error| (or the C51 cross-entropy) `[B]`."""
        cfg = self.config
        t = {k: torch.as_tensor(v, device=self.device) for k, v in batch.items() if v is not None}
        dtype = next(self.network.parameters()).dtype  # float32 in training; float64 in a parity test
        weights = t["weight"].to(dtype) if "weight" in t else None
        with torch.no_grad():
            out_t_target = self.target_network(t["next_obs"])
            if "discount" in t:
                discount_t = t["discount"].to(dtype)
            else:
                discount_t = cfg.gamma * (1.0 - t["terminated"].to(dtype))
            q_t_selector = self.network(t["next_obs"]).q_values if cfg.double_dqn else None
        out_tm1 = self.network(t["obs"])
        loss, priority = make_loss(cfg, dtype)(out_tm1, out_t_target, q_t_selector, t["action"], t["reward"].to(dtype),
                                               discount_t, weights)
        return (loss, priority) if return_priorities else loss

    def optimize(self, batch: dict, env_steps: int | None = None) -> float:
        """One gradient step: loss, backward, gradient clipping, optimizer step, target copy when due."""
        loss = self.compute_loss(batch)
        self.optimizer.zero_grad()
        loss.backward()
        clip_gradients(self.config, list(self.network.parameters()))
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        self.num_updates += 1
        if env_steps is not None:
            period = self.config.target_update_frequency
            if env_steps // period > self.last_target_check // period:
                self.update_target()
            self.last_target_check = env_steps
        return loss.item()
