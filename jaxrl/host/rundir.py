"""The run directory: what a training run leaves on disk, and how to read it back.

    DIR/config.json          the exact DQNConfig + env shapes + versions (enough to rebuild the network)
    DIR/metrics.csv          one row per finished episode: seed, step, return, length
    DIR/summary.json         per-seed final mean return, aggregate_steps_per_second, compile_seconds, ...
    DIR/params.msgpack       final online params of every agent, stacked on a leading [sweep_size] axis (grid points x seeds)
    DIR/tb/                  TensorBoard events (per-seed episode return, mean loss)
    DIR/learning_curves.png  mean +- std over seeds of the rolling episode return
"""

from __future__ import annotations

import csv
import json
import os
import platform
import warnings
from pathlib import Path

import numpy as np

from jaxrl.host.metrics import METRICS_FILE, write_episodes  # noqa: E402  (the one metrics writer)
from jaxrl.host.claim import (CONFIG_FILE, TB_DIR, RunDirTaken, check_dir_path, check_logs, claim_run_dir,  # noqa: F401
                              default_run_dir, hold_run_dir, release_locks, release_run_dir, shell_quote)

SUMMARY_FILE = "summary.json"
PARAMS_FILE = "params.msgpack"
BEST_PARAMS_FILE = "params_best.msgpack"  # per agent, the parameters of its best greedy evaluation
CURVES_FILE = "learning_curves.png"


def config_content(config, *, preset: str | None, env_info: dict) -> dict:
    """What `config.json` holds: the exact config, the preset it started from, env shapes, versions, and the
    devices the run is sharded over (a resumed run must use as many: the result depends on them)."""
    import jax
    return {"preset": preset, "config": config.to_dict(), "env": env_info, "versions": versions(),
            "devices": {"count": jax.device_count(), "platform": jax.default_backend()}}


def versions() -> dict:
    import flax
    import jax
    import optax

    from jaxrl import __version__
    return {"jaxrl": __version__, "jax": jax.__version__, "flax": flax.__version__, "optax": optax.__version__,
            "python": platform.python_version(), "git_revision": git_revision()}


def git_revision() -> str | None:
    """The source checkout's commit (with `+dirty` for uncommitted changes), or None outside git."""
    import subprocess
    root = Path(__file__).resolve().parent.parent
    with warnings.catch_warnings():  # fork after JAX started its threads: harmless for `git`
        warnings.simplefilter("ignore")
        return _git_revision(root, subprocess)


def _git_revision(root: Path, subprocess) -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if rev.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (temp file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def write_config(out_dir, config, *, preset: str | None, env_info: dict) -> None:
    """config.json: the exact config, the preset it started from, env shapes, versions and git revision."""
    write_json(Path(out_dir) / CONFIG_FILE, config_content(config, preset=preset, env_info=env_info))


def write_run_dir(out_dir, result, summary: dict, *, env_info: dict, preset: str | None = None,
                  window: int = 10) -> Path:
    """Write every artifact of a finished sweep into `out_dir` (created if missing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, result.config, preset=preset, env_info=env_info)
    ep = result.episodes
    write_episodes(out / METRICS_FILE, ep)
    write_json(out / SUMMARY_FILE, summary)
    write_stacked_params(out / PARAMS_FILE, result.params)
    write_tensorboard(out / TB_DIR, result)
    plot_learning_curves(out / CURVES_FILE, ep, result.config.sweep_size, result.config.total_steps, window,
                         title=f"{result.config.env_id}: DQN, {result.config.sweep_size} agents")
    return out


def write_stacked_params(path: Path, params) -> None:
    """Parameters stacked over agents (leading `[S]` axis) as msgpack, written atomically."""
    from flax import serialization
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_bytes(serialization.to_bytes(params))
    os.replace(tmp, path)


def read_stacked_params(path: Path):
    """The raw pytree of numpy arrays written by `write_stacked_params`."""
    from flax import serialization
    return serialization.msgpack_restore(Path(path).read_bytes())


def write_tensorboard(path: Path, result) -> None:
    from jaxrl.host.tensorboard import Scalars

    ep = result.episodes
    with Scalars(path) as writer:
        for s, step, ret, length in zip(ep["seed"], ep["step"], ep["return"], ep["length"]):
            writer.add(f"seed_{s}/episode_return", float(ret), int(step))
            writer.add(f"seed_{s}/episode_length", float(length), int(step))
        losses = result.losses.mean(axis=0)
        stride = max(1, len(losses) // 1000)
        steps_per_update = result.config.steps_per_block / result.config.updates_per_block
        for i in range(0, len(losses), stride):
            step = int(result.config.learning_starts + (i + 1) * steps_per_update)
            writer.add("mean_over_seeds/loss", float(losses[i:i + stride].mean()), step)


def truncate_csv(path: Path, max_step: int) -> None:
    """Keep the header and the rows whose `step` column is <= `max_step` (rows logged after a checkpoint)."""
    if not Path(path).is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    col = rows[0].index("step")
    kept = rows[:1] + [r for r in rows[1:] if r and int(float(r[col])) <= max_step]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(kept)


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of each run of `window` consecutive values (empty if fewer)."""
    if len(x) < window:
        return np.zeros(0)
    c = np.cumsum(np.concatenate([[0.0], x]))
    return (c[window:] - c[:-window]) / window


def curves_on_grid(episodes: dict, num_seeds: int, total_steps: int, window: int, points: int = 200):
    """Per-seed rolling mean return (last `window` episodes) sampled on a common step grid: `[S, points]`
    (NaN before a seed's first `window` episodes)."""
    grid = np.linspace(0, total_steps, points)
    curves = np.full((num_seeds, points), np.nan)
    for s in range(num_seeds):
        mask = episodes["seed"] == s
        ret, step = episodes["return"][mask], episodes["step"][mask]
        if len(ret) < window:
            continue
        rolling = rolling_mean(ret, window)
        ends = step[window - 1:]
        idx = np.searchsorted(ends, grid, side="right") - 1
        curves[s] = np.where(idx >= 0, rolling[np.maximum(idx, 0)], np.nan)
    return grid, curves


def plot_learning_curves(path: Path, episodes: dict, num_seeds: int, total_steps: int, window: int,
                         title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid, curves = curves_on_grid(episodes, num_seeds, total_steps, window)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for c in curves[:16]:
        ax.plot(grid, c, color="tab:blue", alpha=0.15, lw=0.8)
    with warnings.catch_warnings():  # all-NaN columns (before any seed has `window` episodes) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, std = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        lo, hi = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
    ax.fill_between(grid, lo, hi, color="tab:blue", alpha=0.08, label="min..max")
    ax.fill_between(grid, mean - std, mean + std, color="tab:blue", alpha=0.25, label="mean ± std")
    ax.plot(grid, mean, color="tab:blue", lw=2, label=f"mean over {num_seeds} seeds")
    if np.isnan(curves).all():  # a window longer than every seed's run: say so instead of an empty plot
        ax.text(0.5, 0.5, f"no seed finished {window} episodes:\nno rolling mean of {window} to draw "
                "(lower --window)", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("env steps per seed")
    ax.set_ylabel(f"episode return (rolling mean of {window})")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def read_config(run_dir) -> dict:
    """`config.json` as a dict. `FileNotFoundError` without one; `ValueError` naming the file for one that is
    not a JSON object."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a jaxrl run directory (no {CONFIG_FILE})")
    try:
        meta = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise ValueError(f"{path}: damaged (not text)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: damaged (not valid JSON: {e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: damaged (a JSON {type(meta).__name__}, not an object)")
    return meta


def read_dqn_config(run_dir):
    """-> (config.json as a dict, its validated `DQNConfig`); `ValueError` naming the file and the field."""
    from jaxrl.config import DQNConfig
    meta = read_config(run_dir)
    path = Path(run_dir) / CONFIG_FILE
    if not isinstance(meta.get("config"), dict):
        raise ValueError(f"{path}: no DQN config in it (its \"config\" entry is missing or not an object)")
    try:
        return meta, DQNConfig.from_dict(meta["config"]).validate()
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None
