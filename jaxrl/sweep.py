"""Host side of a seed sweep: compile once, run `jax.jit(jax.vmap(train))`, time it, collect episodes."""

from __future__ import annotations

import dataclasses
import threading
import time
from contextlib import nullcontext
from typing import Any, Optional

import jax
import numpy as np

from jaxrl.config import DQNConfig
from jaxrl.rundir import rolling_mean  # noqa: F401  (public here too)
from jaxrl.train import make_train


@dataclasses.dataclass
class SweepResult:
    """What a sweep produced, on the host.

    episodes: dict of equal-length numpy arrays `seed, step, return, length`, one row per finished episode,
      ordered by seed then step (`step` = the agent's env steps when the episode ended);
    losses: `[S, num_updates]`; params: the final online params, stacked over seeds (leading axis S).
    """

    config: DQNConfig
    episodes: dict
    losses: np.ndarray
    params: Any
    compile_seconds: float
    run_seconds: float

    @property
    def aggregate_steps_per_second(self) -> float:
        return self.config.num_seeds * self.config.total_steps / self.run_seconds


class _Progress:
    """A rich progress bar fed by `jax.debug.callback` (called once per seed, in any order)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.done = total, enabled, 0
        self._lock = threading.Lock()
        self._bar = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self._bar = Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("env steps/seed"), TimeElapsedColumn(), TimeRemainingColumn())
            self._bar.start()
            self._task = self._bar.add_task("train", total=self.total)
        return self

    def __call__(self, env_steps):
        with self._lock:
            self.done = max(self.done, int(np.max(env_steps)))
            if self._bar is not None:
                self._bar.update(self._task, completed=self.done)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.update(self._task, completed=self.total if exc[0] is None else self.done)
            self._bar.stop()


def seed_keys(config: DQNConfig):
    """The sweep's per-seed keys: `split(PRNGKey(seed), num_seeds)`."""
    return jax.random.split(jax.random.PRNGKey(config.seed), config.num_seeds)


def run_sweep(config: DQNConfig, *, progress: bool = True, console=None) -> SweepResult:
    """Train `config.num_seeds` agents in one jitted, vmapped program; compile time is timed apart."""
    config.validate()
    bar = _Progress(config.total_steps, enabled=progress)
    train = make_train(config, progress_callback=bar)
    keys = seed_keys(config)
    status = console.status("compiling ...") if console is not None else nullcontext()
    with status:
        t0 = time.perf_counter()
        compiled = jax.jit(jax.vmap(train)).lower(keys).compile()
        compile_seconds = time.perf_counter() - t0
    with bar:
        t0 = time.perf_counter()
        state, metrics = compiled(keys)
        jax.block_until_ready((state, metrics))
        run_seconds = time.perf_counter() - t0
    return SweepResult(config=config, episodes=episodes_from_metrics(metrics, config.num_envs),
                       losses=np.asarray(metrics["loss"]).reshape(config.num_seeds, -1),
                       params=jax.device_get(state.params),
                       compile_seconds=compile_seconds, run_seconds=run_seconds)


def episodes_from_metrics(metrics, num_envs: int) -> dict:
    """Finished episodes from the scan's `[S, T, E]` running statistics."""
    done = np.asarray(metrics["episode_done"])
    seed, t, _ = np.nonzero(done)  # lexicographic: by seed, then time, then env
    return {
        "seed": seed.astype(np.int64),
        "step": ((t + 1) * num_envs).astype(np.int64),
        "return": np.asarray(metrics["episode_return"])[done].astype(np.float64),
        "length": np.asarray(metrics["episode_length"])[done].astype(np.int64),
    }


def per_seed_returns(episodes: dict, num_seeds: int) -> list[np.ndarray]:
    return [episodes["return"][episodes["seed"] == s] for s in range(num_seeds)]


def summarize(result: SweepResult, window: int = 10, solve_threshold: Optional[float] = None) -> dict:
    """Per-seed final mean return (last `window` episodes) and best `window`-episode mean, plus timings."""
    seeds = []
    for s, r in enumerate(per_seed_returns(result.episodes, result.config.num_seeds)):
        means = rolling_mean(r, window)
        seeds.append({
            "seed_index": s,
            "episodes": int(len(r)),
            "final_mean_return": float(r[-window:].mean()) if len(r) else None,
            "best_mean_return": float(means.max()) if len(means) else None,
            "final_loss": float(result.losses[s, -100:].mean()) if result.losses.size else None,
        })
    finals = [s["final_mean_return"] for s in seeds if s["final_mean_return"] is not None]
    summary = {
        "window_episodes": window,
        "num_seeds": result.config.num_seeds,
        "env_steps_per_seed": result.config.total_steps,
        "per_seed": seeds,
        "mean_final_return": float(np.mean(finals)) if finals else None,
        "aggregate_steps_per_second": result.aggregate_steps_per_second,
        "run_seconds": result.run_seconds,
        "compile_seconds": result.compile_seconds,
        "devices": [str(d) for d in jax.devices()],
    }
    if solve_threshold is not None:
        summary["solve_threshold"] = solve_threshold
        summary["seeds_reaching_threshold"] = sum(
            1 for s in seeds if s["best_mean_return"] is not None and s["best_mean_return"] >= solve_threshold)
    return summary
