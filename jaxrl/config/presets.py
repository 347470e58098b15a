"""Presets are data: named `DQNConfig`s, selectable with `jaxrl train --preset NAME`."""

from __future__ import annotations

from jaxrl.config.dqn import DQNConfig

PRESETS: dict[str, DQNConfig] = {
    # CartPole-v1 in 100k env steps, the defaults' learner (lr 1e-3, double DQN, target period 500, batch 64), plus a
    # greedy evaluation of 10 episodes every 2,000 env steps that keeps each seed's best parameters: DQN on
    # CartPole learns fast and then often forgets (the final parameters of many seeds score far below their
    # best), so the preset's product is `params_best.msgpack`. Measured with `jaxrl evaluate --which best` in
    # Gymnasium over two root seeds: benchmarks/results/cartpole-preset-*.json.
    "cartpole": DQNConfig(log_frequency=2_000, eval_frequency=2_000, eval_episodes=10),
    # The course's Pong setting (lr 1e-4, gamma 0.99, replay 100k, batch 32, C=5000, double DQN,
    # eps 0.9 -> 0.01 with exponential decay 10000, error clipping, Huber, Adam).
    "pong": DQNConfig(
        env_id="Pong-v5",
        total_steps=2_000_000,
        learning_starts=10_000,
        train_frequency=1,
        learning_rate=1e-4,
        gamma=0.99,
        buffer_size=100_000,
        batch_size=32,
        target_update_frequency=5_000,
        double_dqn=True,
        dueling=False,
        network="cnn",
        egreedy=0.9,
        egreedy_final=0.01,
        egreedy_decay=10_000.0,
        epsilon_schedule="exponential",
        clip_error=True,
        loss="huber",
        optimizer="adam",
        loop="xla",
        log_frequency=10_000,
        eval_frequency=100_000,
        eval_episodes=4,
        checkpoint_frequency=100_000,
    ),
}


# Rainbow parts on CartPole: double + dueling + prioritized replay + 3-step returns + C51 (noisy nets left out).
# Values in [0, 100]: returns of +1 per step discounted by 0.99 stay below 1 / (1 - 0.99).
PRESETS["rainbow"] = PRESETS["cartpole"].replace(
    double_dqn=True, dueling=True, prioritized=True, per_alpha=0.5, per_beta=0.4, n_step=3, distributional=True,
    num_atoms=51, v_min=0.0, v_max=100.0)


def get_preset(name: str) -> DQNConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(sorted(PRESETS))}") from None
