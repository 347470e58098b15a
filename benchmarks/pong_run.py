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

from jaxrl.host.atari_log import SOLVE_WINDOW, SOLVED_RETURN

SOLVED_MEAN = SOLVED_RETURN["Pong-v5"]  # the course's "solved": mean > 18 over the last SOLVE_WINDOW (100) games


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


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_pong(run_dir: Path, budget: float, resume: bool, extra_args: list[str], t0: float,
             preset: str = "pong-fast") -> dict:
    """`jaxrl train --preset PRESET` (or `--resume`) in a child process for at most `budget` seconds; SIGTERM once
    solved or out of time (it checkpoints and exits 130). -> {"exit_status", "stopped_because", "seconds"}."""
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
        elif solved_point([float(r["return"]) for r in _rows(run_dir / "metrics.csv")]) is not None:
            reason = "solved"
        else:
            continue
        child.send_signal(signal.SIGTERM)  # checkpoint at the end of the running chunk, exit 130
        try:
            child.wait(timeout=max(60.0, 0.1 * budget))
        except subprocess.TimeoutExpired:
            child.kill()
            reason += " (killed: no exit 60 s after SIGTERM)"
        break
    return {"exit_status": child.wait(), "stopped_because": reason, "seconds": time.perf_counter() - start}


def pong_curves(run_dir: Path, out: Path, run_info: list[dict], preset: str = "preset pong-fast") -> dict:
    """pong-curves.json + .png from the run directory's metrics.csv (games) and progress.csv (wall time)."""
    games = _rows(run_dir / "metrics.csv")
    progress = _rows(run_dir / "progress.csv")
    steps = [int(g["step"]) for g in games]
    returns = [float(g["return"]) for g in games]
    i = solved_point(returns)
    solved = None
    if i is not None:
        step = steps[i]
        after = [p for p in progress if int(p["step"]) >= step]
        solved = {"game": i + 1, "env_steps": step, "frames": 4 * step,
                  "wall_seconds": float(after[0]["seconds"]) if after else None,
                  "note": "wall seconds: training time at the end of the chunk holding that game, across resumes"}
    doc = {"env": "Pong-v5", "preset": preset, "criterion": f"mean > {SOLVED_MEAN:g} over the last {SOLVE_WINDOW} games",
           "games": len(games), "env_steps": int(progress[-1]["step"]) if progress else 0,
           "frames": int(progress[-1]["frames"]) if progress else 0,
           "wall_seconds": float(progress[-1]["seconds"]) if progress else 0.0, "solved": solved,
           "calls": run_info, "game_steps": steps, "game_returns": returns,
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
    steps, returns = np.array(doc["game_steps"]), np.array(doc["game_returns"])
    if len(returns):
        csum = np.concatenate([[0.0], np.cumsum(returns)])
        idx = np.arange(1, len(returns) + 1)
        lo = np.maximum(idx - SOLVE_WINDOW, 0)
        ax[0].plot(steps, returns, ".", ms=2, alpha=0.4, label="game score")
        ax[0].plot(steps, (csum[idx] - csum[lo]) / (idx - lo), label=f"mean of the last {SOLVE_WINDOW} games")
    ax[0].axhline(SOLVED_MEAN, color="gray", ls="--", lw=1, label="solved (> 18)")
    ax[0].set(xlabel="env steps (x4 frames)", ylabel="game score", title=f"Pong-v5, {doc['preset']}, 1 seed")
    ax[0].legend(loc="lower right", fontsize=8)
    if doc["progress"]:
        ax[1].plot([p["seconds"] / 60 for p in doc["progress"]], [p["sps"] for p in doc["progress"]])
    ax[1].set(xlabel="wall minutes (training)", ylabel="env steps/s", title="throughput per chunk")
    if doc["solved"]:
        s = doc["solved"]
        ax[0].axvline(s["env_steps"], color="green", lw=1)
        fig.suptitle(f"solved at {s['env_steps']:,} env steps ({s['frames']:,} frames), "
                     f"{(s['wall_seconds'] or 0) / 60:.1f} min of training")
    else:
        fig.suptitle(f"not solved yet: {doc['games']} games, {doc['env_steps']:,} env steps, "
                     f"{doc['wall_seconds'] / 60:.1f} min")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
