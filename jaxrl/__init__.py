"""jaxrl: JAX-accelerated DQN with a PyTorch reference beside it."""

__version__ = "0.1.0"

from jaxrl.config import PRESETS, DQNConfig, get_preset  # noqa: E402  (plain data, no JAX)


def __getattr__(name):  # lazy: importing jaxrl.config must not pull in JAX
    import importlib
    homes = {
        "q_learning_targets": "jaxrl.agents.losses", "double_q_learning_targets": "jaxrl.agents.losses",
        "td_loss": "jaxrl.agents.losses", "td_error": "jaxrl.agents.losses", "huber": "jaxrl.agents.losses",
        "make_buffer": "jaxrl.replay.ring", "Buffer": "jaxrl.replay.ring", "BufferState": "jaxrl.replay.ring",
        "exponential_epsilon": "jaxrl.agents.exploration", "linear_epsilon": "jaxrl.agents.exploration",
        "epsilon_greedy": "jaxrl.agents.exploration", "make_epsilon_schedule": "jaxrl.agents.exploration",
        "make_network": "jaxrl.agents.networks", "QNetwork": "jaxrl.agents.networks",
        "make_optimizer": "jaxrl.agents.optim", "clamp_gradients": "jaxrl.agents.optim",
        "make_train": "jaxrl.runners.gymnax", "make_agent": "jaxrl.agents.dqn",
        "TrainState": "jaxrl.runners.learning", "LearnerState": "jaxrl.runners.learning",
        "Transition": "jaxrl.agents.types", "compiler_options": "jaxrl.runners.xla_options",
        "run_sweep": "jaxrl.host.sweep", "load_policy": "jaxrl.host.policy",
    }
    if name in homes:
        return getattr(importlib.import_module(homes[name]), name)
    raise AttributeError(f"module 'jaxrl' has no attribute {name!r}")


__all__ = [
    "DQNConfig", "PRESETS", "get_preset", "q_learning_targets", "double_q_learning_targets", "td_loss",
    "td_error", "huber", "make_buffer", "Buffer",
    "BufferState", "exponential_epsilon", "linear_epsilon", "epsilon_greedy", "make_epsilon_schedule",
    "make_network", "QNetwork", "make_optimizer", "clamp_gradients", "make_train", "make_agent",
    "TrainState", "LearnerState", "Transition", "compiler_options", "run_sweep", "load_policy",
]
