"""The host-side schedule of the Pong loops (`jaxrl.runners.atari.Schedule`): plain Python, no env needed."""

import pytest

from jaxrl.agents.dqn import target_update_due
from jaxrl.config import get_preset
from jaxrl.runners.learning import Schedule


def reference(config, iteration, updates_from=0):
    """The schedule as the gymnax trainer states it: updates after `learning_starts + steps_per_block` env
    steps, then every `steps_per_block`; the target copied when the counter crosses a multiple of its period."""
    env_steps = iteration * config.num_envs
    block = config.steps_per_block
    due = (env_steps >= config.learning_starts + block and (env_steps - config.learning_starts) % block == 0
           and iteration >= updates_from)
    period = config.target_update_frequency
    return due, due and env_steps // period > (env_steps - block) // period


@pytest.mark.parametrize("num_envs,train_frequency,updates_from", [(1, 1, 0), (1, 16, 0), (8, 4, 0), (2, 8, 0),
                                                                   (4, 1, 40), (1, 1, 300)])
def test_schedule_matches_the_trainer_and_plans_partition_each_chunk(num_envs, train_frequency, updates_from):
    cfg = get_preset("pong").replace(num_envs=num_envs, train_frequency=train_frequency, learning_starts=128,
                                     target_update_frequency=96, total_steps=2048, log_frequency=256)
    schedule = Schedule(cfg, updates_from)
    iterations = cfg.total_steps // num_envs
    flags = [schedule(i) for i in range(iterations)]
    assert flags == [reference(cfg, i, updates_from) for i in range(iterations)]
    assert any(u for u, _ in flags) and any(c for _, c in flags)
    assert all(target_update_due(i * num_envs, cfg.steps_per_block, 96) == c for i, (u, c) in enumerate(flags) if u)
    chunk = cfg.log_frequency // num_envs
    per_block = cfg.iterations_per_update_block
    for start in range(0, iterations, chunk):
        warmup, blocks = schedule.plan(start, chunk)
        assert warmup + blocks * per_block == chunk
        # the acting-only part has no update; every block updates on its first iteration and only there
        assert not any(u for u, _ in flags[start:start + warmup])
        block_flags = [flags[start + warmup + k][0] for k in range(blocks * per_block)]
        assert block_flags == [k % per_block == 0 for k in range(blocks * per_block)]
