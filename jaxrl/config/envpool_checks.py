"""What the chunked envpool (Atari) loops need of a `DQNConfig` beyond `validate()` (plain Python)."""

from __future__ import annotations

import math

from jaxrl.config.checks import fail


def validate_envpool(config, num_devices: int = 1):
    """Every period a multiple of the chunk, the agents split evenly over `num_devices`; -> `config`. Raises
    `ValueError` naming the first offending field."""
    if config.grid:
        fail("grid", config.grid, "empty for envpool runs (grids are one-program gymnax sweeps; use --num-seeds)")
    if num_devices > 1 and config.loop == "xla":
        fail("loop", config.loop, f"'host' with {num_devices} devices: envpool's XLA ops cannot be partitioned "
              "across devices (XLA's SPMD partitioner rejects their side effects)")
    rows = config.buffer_size // config.num_envs  # frame-buffer rows per env; a stack needs 4 of them
    if config.n_step > rows - 4:
        fail("n_step", config.n_step, f"<= buffer_size / num_envs - 4 = {rows - 4} (an n-step window of 4-frame "
              "stacks must fit in the frame buffer)")
    if config.seed > 2**31 - 2 * 10**6 - 1:  # envpool seeds are int32; evaluations add up to 10**6
        fail("seed", config.seed, f"< {2**31 - 2 * 10**6:,} for envpool runs (envpool seeds are int32)")
    if config.num_seeds % num_devices:
        fail("num_seeds", config.num_seeds, f"a multiple of the {num_devices} visible devices (each device owns "
              "an equal slice of the agents and of the envpool)")
    if config.log_frequency % config.steps_per_block:
        fail("log_frequency", config.log_frequency,
              f"a multiple of num_envs * max(1, train_frequency // num_envs) = {config.steps_per_block}")
    for name in ("eval_frequency", "checkpoint_frequency", "total_steps"):
        if getattr(config, name) % config.log_frequency:
            fix = math.gcd(config.total_steps, config.eval_frequency, config.checkpoint_frequency, config.log_frequency)
            hint = (f": pass --log-frequency {fix}" if fix % config.steps_per_block == 0 and fix >= 1000 else
                    " (--log-frequency sets the chunk: env steps per agent between progress lines)")
            fail(name, getattr(config, name), f"a multiple of log_frequency ({config.log_frequency}){hint}")
    return config
