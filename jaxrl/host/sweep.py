"""Host side of a seed sweep: compile once, run `jax.jit(jax.vmap(train))`, time it, collect episodes."""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Optional

import jax
import numpy as np

from jaxrl.config import DQNConfig
from jaxrl.host.greedy import GreedyEvals
from jaxrl.host.metrics import EVAL_FILE, append_episodes, episodes_from_metrics, read_episodes, start_metrics
from jaxrl.host.progress import ProgressBar
from jaxrl.host.rundir import rolling_mean  # noqa: F401  (public here too)
from jaxrl.runners.grid import (gather, place, shard_sweep, sweep_hparams, sweep_keys, sweep_labels, sweep_sharding,
                               unshard)
from jaxrl.runners.gymnax import GymnaxLoop, make_train
from jaxrl.runners.xla_options import compiler_options


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
    steps_run: Optional[int] = None  # env steps per seed timed in run_seconds (a resumed run: fewer)
    diverged_at: Optional[np.ndarray] = None  # [S] env step of the first non-finite update, -1 = never
    greedy_eval: Optional[dict] = None  # `GreedyEvals.summary()` when the run evaluated its agents

    @property
    def aggregate_steps_per_second(self) -> float:
        steps = self.config.total_steps if self.steps_run is None else self.steps_run
        return self.config.sweep_size * steps / self.run_seconds


def sweep_program(config: DQNConfig, train=None, sharding=None):
    """`(jax.jit(jax.vmap(train)) with compiler_options(), its sharded inputs, N)`: the one way a sweep's whole run
    is built as one program (the benchmarks). `train` defaults to `make_train(config)`; the inputs are the keys
    (and traced hyperparameters with a grid), padded to a multiple of the devices and laid out over them
    (`sharding`: default, every visible device). Without a grid the hyperparameters stay compile-time constants.
    Compile it with `program.lower(*inputs).compile()`; its outputs' leading axis is N, padded."""
    train = make_train(config) if train is None else train
    keys = sweep_keys(config)
    if config.grid:
        inputs, n = shard_sweep((keys, sweep_hparams(config)), sharding)
        return jax.jit(jax.vmap(train), compiler_options=compiler_options()), inputs, n
    (keys,), n = shard_sweep((keys,), sharding)
    return jax.jit(jax.vmap(train), compiler_options=compiler_options()), (keys,), n


def run_sweep(config: DQNConfig, *, progress: bool = True, console=None) -> SweepResult:
    """Train `config.sweep_size` agents (grid points x seeds) and return the result without keeping a run
    directory: `run_gymnax`, the one driver, in a temporary directory that is removed afterwards. (The whole run
    as one compiled program is `make_train` / `sweep_program`.)"""
    import tempfile

    from jaxrl.host.driver import StopFlag
    with tempfile.TemporaryDirectory(prefix="jaxrl-sweep-") as tmp:  # a flag never installed: signals stay as they
        return run_gymnax(config, tmp, progress=progress, console=console, stop=StopFlag())  # are, nothing to resume


def per_seed_returns(episodes: dict, num_seeds: int) -> list[np.ndarray]:
    return [episodes["return"][episodes["seed"] == s] for s in range(num_seeds)]


def summarize(result: SweepResult, window: int = 10) -> dict:
    """`jaxrl.host.summary.run_summary` of a gymnax sweep, plus per seed its grid point, final loss and divergence
    step, and per grid point the aggregates of its seeds."""
    from jaxrl.host.summary import reached_threshold, run_summary, seed_aggregates
    config = result.config
    summary = run_summary(config, per_seed_returns(result.episodes, config.sweep_size), window,
                          run_seconds=result.run_seconds, compile_seconds=result.compile_seconds,
                          steps_per_second=result.aggregate_steps_per_second, greedy_eval=result.greedy_eval)
    seeds, threshold = summary["per_seed"], summary["solve_threshold"]
    labels = sweep_labels(config)
    for s, seed in enumerate(seeds):
        if config.grid:
            seed["grid_point"] = labels[s]
        seed["final_loss"] = float(result.losses[s, -100:].mean()) if result.losses.size else None
        seed["diverged_at_env_step"] = (int(result.diverged_at[s]) if result.diverged_at is not None
                                        and result.diverged_at[s] >= 0 else None)
    if config.grid:
        summary["per_point"] = []
        for p, point in enumerate(config.grid_points()):
            mine = [s for s in seeds if s["grid_point"]["point"] == p]
            finals = [s["final_mean_return"] for s in mine if s["final_mean_return"] is not None]
            summary["per_point"].append({
                "point": p, **point, "seeds": len(mine), "mean_final_return": float(np.mean(finals)) if finals else None,
                "aggregates": seed_aggregates(mine, threshold),
                **({"seeds_reaching_threshold": sum(reached_threshold(s, threshold) for s in mine)}
                   if threshold is not None else {})})
    return summary


def run_gymnax(config: DQNConfig, out_dir, *, resume: bool = False, progress: bool = True, console=None,
               stop=None) -> SweepResult:
    """The same sweep as `run_sweep`, driven in chunks of `log_frequency` env steps by the one stoppable driver
    (`jaxrl.host.driver`): `metrics.csv` is appended per chunk; SIGINT/SIGTERM checkpoint the whole state
    (params, target, optimizer, replay buffer, env state, keys, counters) at the end of the chunk; so does every
    `checkpoint_frequency` env steps, when set; `resume=True` continues from `out_dir/checkpoint.msgpack`.
    Everything is pure JAX, so a resumed run is bit-identical to an uninterrupted one on CPU. (One chunk
    boundary can change XLA's fusion decisions compared with the single-program `run_sweep`, so the two need
    not agree bit for bit.) `stop`: a `StopFlag` already installed by the caller (default: one of its own)."""
    from jaxrl.host.driver import StopFlag
    config.validate()
    with nullcontext(stop) if stop is not None else StopFlag() as stop:
        return _run_gymnax(config, Path(out_dir), resume, stop, progress, console)


def _run_gymnax(config: DQNConfig, out: Path, resume: bool, stop, progress: bool, console) -> SweepResult:
    from jaxrl import __version__
    from jaxrl.host import rundir
    from jaxrl.host.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
    from jaxrl.host.driver import Chunks, drive

    per_chunk = max(1, config.log_frequency // config.steps_per_block)
    n_sweep = config.sweep_size
    sharding = sweep_sharding()
    loop = GymnaxLoop(config, sharding)
    steps_of = lambda done: config.learning_starts + done * config.steps_per_block  # noqa: E731
    metrics_path = out / rundir.METRICS_FILE
    expect = {"jaxrl": __version__, "config": config.to_dict()}
    writer = jax.process_index() == 0  # several processes (`--distributed`) run this in step; one writes
    t0 = time.perf_counter()
    if resume:
        state, meta = load_checkpoint(out / CHECKPOINT_FILE, loop.template(), expect=expect)
        loop.state = place(state, sharding)
        done = meta["blocks"]
        if writer:
            rundir.truncate_csv(metrics_path, steps_of(done))
            rundir.truncate_csv(out / EVAL_FILE, steps_of(done))
    else:
        warm = episodes_from_metrics(loop.start(), config.num_envs)
        done = 0
        if writer:
            start_metrics(metrics_path)
            append_episodes(metrics_path, warm)
    loop.compile({min(per_chunk, config.num_blocks), config.num_blocks % per_chunk})
    compile_seconds = time.perf_counter() - t0
    losses, first_block = [], done

    evals = GreedyEvals(config, out, n_sweep, resume, writer=writer) if config.eval_frequency else None

    def record(before, n, metrics, seconds):
        env_m, upd_m = metrics
        flat = {k: v.reshape(n_sweep, -1, config.num_envs) for k, v in env_m.items()}
        if writer:
            append_episodes(metrics_path, episodes_from_metrics(flat, config.num_envs, steps_of(before)))
        losses.append(np.asarray(upd_m["loss"]).reshape(n_sweep, -1))
        now = steps_of(before + n)
        if evals is not None and evals.due(steps_of(before), now, before + n == config.num_blocks):
            returns = evals(now, unshard(loop.state.params, n_sweep))
            return f"greedy eval {returns.mean():.1f}"
        return ""

    def save(done):
        whole = gather(loop.state)  # collective: every process takes part, one writes
        if writer:
            save_checkpoint(out / CHECKPOINT_FILE, whole, {**expect, "blocks": done, "env_steps": steps_of(done)})

    chunks = Chunks(done=done, total=config.num_blocks, per_chunk=per_chunk, env_steps=steps_of, advance=loop.run,
                    record=record, save=save, diverged_at=lambda: unshard(loop.state.diverged_at, n_sweep),
                    checkpoint_every=config.checkpoint_frequency, save_at_end=config.checkpoint_frequency > 0)
    with ProgressBar(config.total_steps, enabled=progress, done=steps_of(done)) as bar:
        run_seconds = drive(chunks, stop, bar, out, console)
    state = loop.state
    return SweepResult(config=config, episodes=read_episodes(metrics_path) if writer else {},
                       losses=np.concatenate(losses, axis=1) if losses else np.zeros((n_sweep, 0)),
                       params=unshard(state.params, n_sweep), compile_seconds=compile_seconds,
                       run_seconds=max(run_seconds, 1e-9), steps_run=(chunks.done - first_block) * config.steps_per_block,
                       diverged_at=unshard(state.diverged_at, n_sweep),
                       greedy_eval=evals.summary() if evals is not None else None)
