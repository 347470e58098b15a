"""jaxrl: JAX-accelerated DQN with a PyTorch reference beside it."""

__version__ = "0.1.0"

from jaxrl.config import PRESETS, DQNConfig, get_preset  # noqa: E402  (plain data, no JAX)


def __getattr__(name):  # lazy: importing jaxrl.config must not pull in JAX
    import importlib
    homes = {
        "dqn_targets": "jaxrl.losses", "td_loss": "jaxrl.losses", "huber": "jaxrl.losses",
        "make_buffer": "jaxrl.replay", "Buffer": "jaxrl.replay", "BufferState": "jaxrl.replay",
        "exponential_epsilon": "jaxrl.exploration", "linear_epsilon": "jaxrl.exploration",
        "epsilon_greedy": "jaxrl.exploration", "make_epsilon_schedule": "jaxrl.exploration",
        "make_network": "jaxrl.networks", "QNetwork": "jaxrl.networks",
        "make_optimizer": "jaxrl.optim", "clamp_gradients": "jaxrl.optim",
        "make_train": "jaxrl.train", "make_agent": "jaxrl.train", "TrainState": "jaxrl.train",
        "Transition": "jaxrl.train", "compiler_options": "jaxrl.train",
        "run_sweep": "jaxrl.sweep", "load_policy": "jaxrl.policy",
    }
    if name in homes:
        return getattr(importlib.import_module(homes[name]), name)
    raise AttributeError(f"module 'jaxrl' has no attribute {name!r}")


__all__ = [
    "DQNConfig", "PRESETS", "get_preset", "dqn_targets", "td_loss", "huber", "make_buffer", "Buffer",
    "BufferState", "exponential_epsilon", "linear_epsilon", "epsilon_greedy", "make_epsilon_schedule",
    "make_network", "QNetwork", "make_optimizer", "clamp_gradients", "make_train", "make_agent",
    "TrainState", "Transition", "compiler_options", "run_sweep", "load_policy",
]
