"""The GPU protocol's Pong learning run: `jaxrl train` in a child process for a time budget, stopped once solved,
and its curves (`pong-curves.json`, `.png`, `pong-progress.csv`) with the first point where the course's
"solved" holds (`benchmarks.gpu` runs it after the measurements)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jaxrl.config.solved import SOLVED_SCORE
from jaxrl.host.atari_log import SOLVE_WINDOW

SOLVED_MEAN = SOLVED_SCORE["Pong-v5"]  # the course's "solved": mean > 18 over the last SOLVE_WINDOW (100) games


def stamp(t0: float) -> str:
    """"[  12.3 s]": seconds since `t0` (`time.perf_counter()`), for the protocol's log lines."""
    return f"[{time.perf_counter() - t0:6.1f} s]"


def solved_point(returns: list[float]) -> int | None:
    """Index of the first game at which the mean of the last `SOLVE_WINDOW` games exceeds `SOLVED_MEAN`."""
    total = 0.0
    for i, r in enumerate(returns):
        total += r
        if i >= SOLVE_WINDOW:
            total -= returns[i - SOLVE_WINDOW]
        if i + 1 >= SOLVE_WINDOW and total / SOLVE_WINDOW > SOLVED_MEAN:
            return i
    return None


def seed_returns(games: list[dict]) -> dict[int, list[float]]:
    """metrics.csv rows -> each seed's game returns in the order the games ended."""
    return {seed: [float(g["return"]) for g in rows] for seed, rows in _by_seed(games).items()}


def _by_seed(games: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for g in sorted(games, key=lambda g: (int(g.get("seed") or 0), int(g["step"]))):
        out.setdefault(int(g.get("seed") or 0), []).append(g)
    return out


def all_solved(games: list[dict], num_seeds: int) -> bool:
    """Every one of `num_seeds` seeds has reached the course's "solved" (`solved_point`)."""
    per_seed = seed_returns(games)
    return len(per_seed) >= num_seeds and all(solved_point(r) is not None for r in per_seed.values())


def _num_seeds(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / "config.json").read_text())["config"]["num_seeds"])
    except (OSError, KeyError, ValueError):
        return 1


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_pong(run_dir: Path, budget: float, resume: bool, extra_args: list[str], t0: float,
             preset: str = "pong-fast") -> dict:
    """`jaxrl train --preset PRESET` (or `--resume`) in a child process for at most `budget` seconds; SIGTERM once
    every seed has solved or out of time (it checkpoints and exits 130). -> {"exit_status", "stopped_because",
    "seconds", "args"}."""
    if resume:
        args = ["--resume", str(run_dir)]
    else:
        args = ["--preset", preset, "--out-dir", str(run_dir), *extra_args]
    cmd = [sys.executable, "-m", "jaxrl", "train", *args, "--no-progress"]
    print(f"{stamp(t0)} pong run ({budget:.0f} s): {' '.join(cmd[2:])}", flush=True)
    start = time.perf_counter()
    # This process holds the memory JAX preallocated for the measurements: the child allocates as it goes.
    child = subprocess.Popen(cmd, env={**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"})
    reason = "finished"
    while child.poll() is None:
        time.sleep(2.0)
        if time.perf_counter() - start > budget:
            reason = "time budget"
        elif all_solved(_rows(run_dir / "metrics.csv"), _num_seeds(run_dir)):
            reason = "solved" if _num_seeds(run_dir) == 1 else "every seed solved"
        else:
            continue
        child.send_signal(signal.SIGTERM)  # checkpoint at the end of the running chunk, exit 130
        try:
            child.wait(timeout=max(60.0, 0.1 * budget))
        except subprocess.TimeoutExpired:
            child.kill()
            reason += " (killed: no exit 60 s after SIGTERM)"
        break
    return {"exit_status": child.wait(), "stopped_because": reason, "seconds": time.perf_counter() - start,
            "args": args}


def _wall_seconds(progress: list[dict], step: int) -> float | None:
    """Training seconds at the end of the chunk holding env step `step` (per agent)."""
    after = [p for p in progress if int(p["step"]) >= step]
    return float(after[0]["seconds"]) if after else None


def pong_curves(run_dir: Path, out: Path, run_info: list[dict], preset: str = "preset pong-fast") -> dict:
    """pong-curves.json + .png from the run directory's metrics.csv (games of every seed) and progress.csv (wall
    time). `solved`: where the last seed reached the course's criterion (all of them must), with every seed's
    point in `per_seed`; None until all have."""
    games = _rows(run_dir / "metrics.csv")
    progress = _rows(run_dir / "progress.csv")
    num_seeds = _num_seeds(run_dir)
    per_seed = []
    games = [g for rows in _by_seed(games).values() for g in rows]  # by seed, then step
    for seed, rows in _by_seed(games).items():
        returns, steps = [float(g["return"]) for g in rows], [int(g["step"]) for g in rows]
        i = solved_point(returns)
        per_seed.append({"seed": seed, "games": len(returns), "solved": None if i is None else {
            "game": i + 1, "env_steps": steps[i], "frames": 4 * steps[i], "wall_seconds": _wall_seconds(progress, steps[i])}})
    points = [p["solved"] for p in per_seed if p["solved"]]
    solved = None
    if len(points) == num_seeds and points:
        last = max(points, key=lambda p: p["env_steps"])
        solved = {**last, "seeds": num_seeds,
                  "note": "the last seed to solve; wall seconds: training time at the end of the chunk holding that "
                          "game, across resumes"}
    doc = {"env": "Pong-v5", "preset": preset, "num_seeds": num_seeds,
           "criterion": f"mean > {SOLVED_MEAN:g} over the last {SOLVE_WINDOW} games, every seed",
           "games": len(games), "env_steps": int(progress[-1]["step"]) if progress else 0,
           "frames": int(progress[-1]["frames"]) if progress else 0,
           "wall_seconds": float(progress[-1]["seconds"]) if progress else 0.0, "solved": solved,
           "per_seed": per_seed, "calls": run_info,
           "game_seeds": [int(g.get("seed") or 0) for g in games], "game_steps": [int(g["step"]) for g in games],
           "game_returns": [float(g["return"]) for g in games],
           "progress": [{k: float(v) for k, v in p.items() if v not in ("", None)} for p in progress]}
    (out / "pong-curves.json").write_text(json.dumps(doc) + "\n")
    if progress:
        (out / "pong-progress.csv").write_text((run_dir / "progress.csv").read_text())
    _plot(doc, out / "pong-curves.png")
    return doc


def _plot(doc: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    seeds = np.array(doc["game_seeds"])
    for seed in sorted(set(doc["game_seeds"])):
        steps, returns = np.array(doc["game_steps"])[seeds == seed], np.array(doc["game_returns"])[seeds == seed]
        csum = np.concatenate([[0.0], np.cumsum(returns)])
        idx = np.arange(1, len(returns) + 1)
        lo = np.maximum(idx - SOLVE_WINDOW, 0)
        if doc["num_seeds"] == 1:
            ax[0].plot(steps, returns, ".", ms=2, alpha=0.4, label="game score")
        ax[0].plot(steps, (csum[idx] - csum[lo]) / (idx - lo), lw=1,
                   label=f"mean of the last {SOLVE_WINDOW} games" + (f", seed {seed}" if doc["num_seeds"] > 1 else ""))
    ax[0].axhline(SOLVED_MEAN, color="gray", ls="--", lw=1, label="solved (> 18)")
    ax[0].set(xlabel="env steps (x4 frames)", ylabel="game score", title=f"Pong-v5, {doc['preset']}, {doc['num_seeds']} seed(s)")
    ax[0].legend(loc="lower right", fontsize=8)
    if doc["progress"]:
        ax[1].plot([p["seconds"] / 60 for p in doc["progress"]], [p["sps"] for p in doc["progress"]])
    ax[1].set(xlabel="wall minutes (training)", ylabel="env steps/s", title="throughput per chunk")
    if doc["solved"]:
        s = doc["solved"]
        ax[0].axvline(s["env_steps"], color="green", lw=1)
        fig.suptitle(("every seed " if s["seeds"] > 1 else "") + f"solved at {s['env_steps']:,} env steps "
                     f"({s['frames']:,} frames), {(s['wall_seconds'] or 0) / 60:.1f} min of training")
    else:
        fig.suptitle(f"not solved yet: {doc['games']} games, {doc['env_steps']:,} env steps, "
                     f"{doc['wall_seconds'] / 60:.1f} min")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
