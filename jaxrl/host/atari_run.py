"""Host side of an envpool (Atari) run: chunks, logs, evaluations, checkpoints, resume, the run directory.

    DIR/config.json           exact DQNConfig, env options, versions, git revision
    DIR/metrics.csv           one row per finished game: seed, step, return (true score), length
    DIR/progress.csv          one row per chunk (log_frequency env steps): steps, frames, wall seconds, SPS,
                              mean loss, epsilon, mean over seeds of the last-100-game mean return
    DIR/eval.csv              one row per evaluation and seed: greedy (eval_epsilon) whole-game returns
    DIR/params_best.msgpack   per seed, the parameters of its best evaluation so far (`jaxrl.host.greedy`)
    DIR/checkpoint.msgpack    params, target params, optimizer, counters, keys, running episode statistics
                              (+ the replay buffer with save_buffer)
    DIR/actions.u8            every action sent to envpool, uint8 `[iteration, num_seeds * num_envs]`
    DIR/params.msgpack, summary.json, learning_curves.png, tb/, eval.mp4

CSV files and the action log are appended and flushed after every chunk, so a killed run keeps its curves;
the checkpoint is written after them. `--resume` drops what was logged after the checkpoint, restores the
state, and rebuilds the envs' state exactly: envpool's state cannot be saved, but envpool is deterministic,
so a fresh pool with the run's seed replaying the logged actions reaches the same emulator states (envpool
alone, much faster than training them: docs/pong.md). With `save_buffer`, a resumed run is
bit-identical to an uninterrupted one on CPU (tested); without it the buffer refills for `learning_starts`
env steps before updates resume.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import __version__
from jaxrl.host import rundir
from jaxrl.runners.atari import make_atari_learner, nhwc_shape, split_seeds
from jaxrl.runners.learning import Schedule
from jaxrl.runners.atari_loops import AtariLoop
from jaxrl.host.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from jaxrl.config import DQNConfig
from jaxrl.config import protocol_options
from jaxrl.envs.envpool_env import FRAMES_PER_STEP, env_spec, make_envpool, reset_step
from jaxrl.host.atari_log import ACTIONS_FILE, SOLVE_WINDOW, AtariLog, truncate_csvs
from jaxrl.host.progress import ProgressBar
from jaxrl.host.evaluate import evaluate, make_act, write_video
from jaxrl.host.greedy import GreedyEvals


def run_atari(config: DQNConfig, out_dir, *, resume: bool = False, progress: bool = True, console=None,
              stop=None) -> dict:
    """Train `config.num_seeds` agents on an envpool Atari env in the run directory `out_dir` (claimed, with its
    config.json, by the caller); returns the summary (also in summary.json). `stop`: a `StopFlag` already
    installed by the caller (default: one of its own)."""
    from contextlib import nullcontext

    from jaxrl.host.driver import StopFlag
    config.validate_envpool(jax.device_count())
    with nullcontext(stop) if stop is not None else StopFlag() as stop:
        return _run_atari(config, Path(out_dir), resume, stop, progress, console or _null_console())


def _run_atari(config: DQNConfig, out: Path, resume: bool, stop, progress: bool, console) -> dict:
    from jaxrl.host.driver import Chunks, drive
    from jaxrl.runners.grid import seed_keys

    num_actions, obs_shape = env_spec(config.env_id, config.atari_protocol)
    num_seeds, num_envs = config.num_seeds, config.num_envs
    learner = make_atari_learner(config, num_actions, obs_shape)
    state = learner.init(seed_keys(config))
    start, updates_from, restarts, seconds_before = 0, 0, 0, 0.0
    if resume:
        state, meta = _restore(out, config, state, learner)
        start, restarts, seconds_before = meta["iteration"], meta["restarts"] + 1, meta["seconds"]
        if not meta["has_buffer"]:
            updates_from = start + config.learning_starts // num_envs
        truncate_csvs(out, start * num_envs)
        _truncate_actions(out, start * num_seeds * num_envs)
    log = AtariLog(out, config, seconds_before)
    env = make_envpool(config.env_id, num_seeds * num_envs, config.seed, protocol=config.atari_protocol)
    ts = split_seeds(reset_step(env.reset()[0]), num_seeds)
    if start:
        with console.status(f"replaying {start * num_envs:,} env steps per agent to restore the envs ..."):
            ts = _replay_actions(out, env, start, num_seeds)
    if jax.device_count() > 1:  # each device owns num_seeds / devices agents and their slice of the pool
        from jaxrl.runners.grid import sweep_sharding
        state, ts = jax.device_put((state, ts), sweep_sharding())
    chunk_iterations = config.log_frequency // num_envs
    t0 = time.perf_counter()
    loop = AtariLoop(learner, env, Schedule(config, updates_from), state, ts).compile(
        range(start, config.total_steps // num_envs, chunk_iterations), chunk_iterations)
    compile_seconds = time.perf_counter() - t0
    act = make_act(learner.network)
    evals = GreedyEvals(config, out, num_seeds, resume,
                        evaluate=lambda steps, params: evaluate(act, params, config, seed=config.seed + steps)[0])

    def record(before, n, metrics, seconds):
        log.chunk(before, metrics, seconds)
        steps = (before + n) * num_envs
        if config.eval_frequency and steps % config.eval_frequency == 0 and steps < config.total_steps:
            log.evaluation(steps, evals(steps, loop.state.params))
        return log.status()

    def save(done):
        _checkpoint(out, config, loop.state, done, restarts, log.seconds)

    chunks = Chunks(done=start, total=config.total_steps // num_envs, per_chunk=chunk_iterations,
                    env_steps=lambda it: it * num_envs, advance=loop.run, record=record, save=save,
                    diverged_at=lambda: np.asarray(loop.state.diverged_at),
                    checkpoint_every=config.checkpoint_frequency)
    try:
        with ProgressBar(config.total_steps, enabled=progress, done=start * num_envs) as bar:
            run_seconds = drive(chunks, stop, bar, out, console)
    except BaseException:
        log.close()
        raise
    env.close()
    state = loop.state
    returns, _, frames = evaluate(act, state.params, config, seed=config.seed + 10**6, record=config.video)
    log.evaluation(config.total_steps, evals.record(config.total_steps, returns, state.params))
    if config.video and frames:
        try:
            write_video(out / "eval.mp4", frames)
        except RuntimeError as e:  # no video writer installed: the run's results matter more than its video
            console.print(f"[yellow]warning:[/] no eval.mp4: {e}")
    from flax import serialization
    (out / rundir.PARAMS_FILE).write_bytes(serialization.to_bytes(jax.device_get(state.params)))
    summary = log.summary(compile_seconds=compile_seconds, run_seconds=run_seconds,
                          total_seconds=seconds_before + run_seconds, final_eval=returns, greedy_eval=evals.summary())
    rundir.write_json(out / rundir.SUMMARY_FILE, summary)
    log.close()
    episodes = log.episodes()
    window = min(SOLVE_WINDOW, max(1, min(len(r) for r in log.returns) if log.returns else 1))
    rundir.plot_learning_curves(out / rundir.CURVES_FILE, episodes, num_seeds, config.total_steps, window,
                                title=f"{config.env_id}: DQN ({config.loop} loop), {num_seeds} seed(s)")
    return summary


def env_info(num_actions: int, obs_shape, protocol: str = "course") -> dict:
    """config.json's `env` entry for an envpool Atari run under `protocol` (`obs_shape`: envpool's stacked frames
    `(stack, H, W)`, recorded as the network sees them)."""
    return {"num_actions": num_actions, "obs_shape": list(nhwc_shape(obs_shape)), "obs_dtype": "uint8",
            "obs_layout": f"NHWC (envpool's {list(obs_shape)} moved to the last axis)", "atari_protocol": protocol,
            "envpool_options": protocol_options(protocol),
            "envpool_eval_options": protocol_options(protocol, evaluation=True), "frames_per_env_step": FRAMES_PER_STEP}


def _checkpoint(out: Path, config, state, iteration: int, restarts: int, seconds: float) -> None:
    saved = state if config.save_buffer else state.replace(replay=None)
    meta = {"jaxrl": __version__, "config": config.to_dict(), "has_buffer": config.save_buffer,
            "iteration": iteration, "env_steps": iteration * config.num_envs, "restarts": restarts, "seconds": seconds}
    save_checkpoint(out / CHECKPOINT_FILE, saved, meta)


def _replay_actions(out: Path, env, iterations: int, num_seeds: int):
    """Step a fresh pool through the first `iterations` logged actions; return its last output `[S, E, ...]`."""
    from jaxrl.host.checkpoint import CheckpointError
    from jaxrl.envs.envpool_env import to_step

    width = env.config["num_envs"]
    actions = np.fromfile(out / ACTIONS_FILE, np.uint8)
    if actions.size < iterations * width:
        raise CheckpointError(f"{out / ACTIONS_FILE}: {actions.size // width} logged steps, the checkpoint needs "
                              f"{iterations}")
    actions = actions[:iterations * width].reshape(iterations, width).astype(np.int32)
    out_step = None
    for a in actions:
        out_step = env.step(a)
    return split_seeds(to_step(*out_step), num_seeds)


def _truncate_actions(out: Path, size: int) -> None:
    path = out / ACTIONS_FILE
    if path.is_file() and path.stat().st_size > size:
        with open(path, "r+b") as f:
            f.truncate(size)


def _restore(out: Path, config, state, learner):
    from jaxrl.host.checkpoint import read_meta
    path = out / CHECKPOINT_FILE
    has_buffer = bool(read_meta(path).get("has_buffer"))
    template = state if has_buffer else state.replace(replay=None)
    restored, meta = load_checkpoint(path, template, expect={"jaxrl": __version__, "config": config.to_dict()})
    restored = jax.tree_util.tree_map(jnp.asarray, restored)
    if not has_buffer:
        restored = restored.replace(replay=state.replay)
    return restored, meta


def _null_console():
    from rich.console import Console
    return Console(stderr=True, quiet=True)
