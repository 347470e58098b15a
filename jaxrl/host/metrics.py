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
EVAL_COLUMNS = ("seed", "step", "mean_return", "min_return", "max_return", "games", "mean_hns")


EPISODE_METRICS = ("episode_return", "episode_length", "episode_done")  # what `episodes_from_metrics` reads


def episodes_from_metrics(metrics, num_envs: int, step_offset: int = 0) -> dict:
    """Finished episodes from the running episode statistics `[S, T, E]` (`jaxrl.runners.learning.track_episodes`'s
    `episode_*` metrics, gymnax and Atari alike; `step_offset`: env steps before T=0), as `metrics.csv` rows
    ordered by seed, then step, then env."""
    done = np.asarray(metrics["episode_done"])
    seed, t, _ = np.nonzero(done)  # lexicographic: by seed, then time, then env
    return {
        "seed": seed.astype(np.int64),
        "step": (step_offset + (t + 1) * num_envs).astype(np.int64),
        "return": np.asarray(metrics["episode_return"])[done].astype(np.float64),
        "length": np.asarray(metrics["episode_length"])[done].astype(np.int64),
    }


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


def eval_rows(env_id: str, steps: int, returns) -> list[list]:
    """The `eval.csv` rows of one evaluation (gymnax and Atari alike): `returns [agents, episodes]` -> one row per
    agent: seed, step, mean (4 decimals), min, max, episodes, and the mean's human-normalized score where the env
    has reference scores (`jaxrl.config.atari_scores`; empty otherwise)."""
    from jaxrl.config.atari_scores import human_normalized_score
    rows = []
    for s, r in enumerate(np.asarray(returns)):
        mean = round(float(r.mean()), 4)
        hns = human_normalized_score(env_id, mean)
        rows.append([s, steps, mean, float(r.min()), float(r.max()), len(r), "" if hns is None else round(hns, 4)])
    return rows
