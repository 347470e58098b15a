"""The one writer and reader of `metrics.csv`: one row per finished episode, `seed, step, return, length`
(`step` = the agent's env steps when the episode ended), for gymnax and Atari runs alike. Rows are appended and
flushed per chunk, so a killed run keeps its curves."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("seed", "step", "return", "length")
EVAL_FILE = "eval.csv"  # greedy evaluations, one row per evaluation and agent (gymnax and Atari runs alike)
EVAL_COLUMNS = ("seed", "step", "mean_return", "min_return", "max_return", "games")


def start_metrics(path: Path) -> None:
    """A new `metrics.csv` holding only its header."""
    with open(path, "w", newline="") as f:
        csv.writer(f).writerow(METRICS_COLUMNS)


def append_episodes(path: Path, episodes: dict) -> None:
    """Append `episodes` (equal-length sequences under the column names) and flush."""
    with open(path, "a", newline="") as f:
        csv.writer(f).writerows(zip(*(np.asarray(episodes[c]).tolist() for c in METRICS_COLUMNS)))
        f.flush()


def write_episodes(path: Path, episodes: dict) -> None:
    """`metrics.csv` with exactly these episodes."""
    start_metrics(path)
    append_episodes(path, episodes)


def read_episodes(path: Path) -> dict:
    """-> dict of numpy arrays `seed, step, return, length`, ordered by seed then step."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: (int(r["seed"]), int(r["step"])))
    return {"seed": np.array([int(r["seed"]) for r in rows], np.int64),
            "step": np.array([int(r["step"]) for r in rows], np.int64),
            "return": np.array([float(r["return"]) for r in rows]),
            "length": np.array([int(r["length"]) for r in rows], np.int64)}
