"""Configuration: plain data, no JAX (torch_reference reads it too).

    dqn.py      `DQNConfig`, one frozen dataclass per algorithm, validated before tracing
    presets.py  named configs (`pong` = the course's values, `cartpole`, `rainbow`)
    envpool_checks.py  what the envpool loops need of a config beyond `validate()`
    atari.py    envpool's Atari options (the course's DeepMind-wrapper setting)
    tabular.py  `TabularConfig` for tabular Q-learning on FrozenLake
"""

from jaxrl.config.atari import ATARI_OPTIONS, ATARI_PROTOCOLS, EVAL_OPTIONS, MACHADO_OPTIONS, protocol_options
from jaxrl.config.dqn import (COMPUTE_DTYPES, CONV_KERNELS, EPSILON_SCHEDULES, GRAD_CLIPS, LOOPS, REPLAY_SEARCHES, LOSSES, NETWORKS, OPTIMIZERS, TRACED_FIELDS,
                              DQNConfig)
from jaxrl.config.presets import PRESETS, get_preset
from jaxrl.config.tabular import FROZEN_LAKE_MAPS, TABULAR_UPDATES, TabularConfig

__all__ = ["GRAD_CLIPS", "COMPUTE_DTYPES", "CONV_KERNELS", "REPLAY_SEARCHES", "ATARI_OPTIONS", "ATARI_PROTOCOLS", "EVAL_OPTIONS", "MACHADO_OPTIONS", "protocol_options", "EPSILON_SCHEDULES", "LOOPS", "LOSSES", "NETWORKS", "OPTIMIZERS",
           "TRACED_FIELDS", "DQNConfig", "PRESETS", "get_preset", "FROZEN_LAKE_MAPS", "TABULAR_UPDATES",
           "TabularConfig"]
