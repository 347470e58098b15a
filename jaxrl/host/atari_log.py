"""What an envpool (Atari) run logs: CSV files flushed per chunk, TensorBoard scalars, the summary's numbers.

    metrics.csv    one row per finished game: seed, step, return (true score), length
    progress.csv   one row per chunk: steps, frames, wall seconds, SPS, mean loss, epsilon, episodes, mean return
                   of the last 100 games
    eval.csv       one row per evaluation and seed: greedy whole-game returns
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from jaxrl.config import DQNConfig
from jaxrl.envs.envpool_env import FRAMES_PER_STEP
from jaxrl.host import rundir
from jaxrl.config.atari_scores import human_normalized_score
from jaxrl.config.solved import solve_threshold
from jaxrl.host.metrics import (EPISODE_METRICS, EVAL_FILE, METRICS_FILE, append_episodes, episodes_from_metrics,
                               read_episodes, start_metrics)

SOLVE_WINDOW = 100
ACTIONS_FILE = "actions.u8"
CSV_COLUMNS = {  # besides metrics.csv (`jaxrl.host.metrics`, the one episode writer) and eval.csv (`jaxrl.host.greedy`)
    "progress.csv": ["step", "frames", "seconds", "sps", "loss", "epsilon", "episodes", "mean_return_last100"],
}


def truncate_csvs(out: Path, env_steps: int) -> None:
    """Drop rows logged after the checkpoint at `env_steps` (they will be produced again)."""
    for name in (METRICS_FILE, EVAL_FILE, *CSV_COLUMNS):
        rundir.truncate_csv(out / name, env_steps)


class AtariLog:
    """Appends CSV rows (flushed per chunk), TensorBoard scalars, and keeps what the summary needs. `seconds`: the
    run's wall seconds of training so far (a resumed run's, from its checkpoint), advanced by each chunk."""

    def __init__(self, out: Path, config: DQNConfig, seconds: float = 0.0):
        from jaxrl.host.tensorboard import Scalars

        self.out, self.config, self.seconds = out, config, seconds
        self.files, self.writers = {}, {}
        if not (out / METRICS_FILE).is_file():
            start_metrics(out / METRICS_FILE)
        for name, columns in CSV_COLUMNS.items():
            path = out / name
            new = not path.is_file()
            self.files[name] = open(path, "a", newline="")
            self.writers[name] = csv.writer(self.files[name])
            if new:
                self.writers[name].writerow(columns)
                self.files[name].flush()
        self.returns = [[] for _ in range(config.num_seeds)]
        self.steps = [[] for _ in range(config.num_seeds)]
        previous = read_episodes(out / METRICS_FILE)
        for seed, step, ret in zip(previous["seed"], previous["step"], previous["return"]):
            self.returns[seed].append(float(ret))
            self.steps[seed].append(int(step))
        self.solved = [None] * config.num_seeds
        self.diverged = set()
        self.last = {"loss": float("nan"), "sps": 0.0}
        self.tb = Scalars(out / rundir.TB_DIR)
        self.actions = open(out / ACTIONS_FILE, "ab")
        self.sps = []

    def chunk(self, start_iteration: int, m: dict, seconds: float) -> None:
        cfg = self.config
        self.seconds += seconds
        total_seconds = self.seconds
        self.actions.write(np.asarray(m["action"], np.uint8).tobytes())  # [n, S, E]: the pool's env order
        done = np.asarray(m["episode_done"])  # [n, S, E]
        episodes = episodes_from_metrics({k: np.moveaxis(np.asarray(m[k]), 1, 0) for k in EPISODE_METRICS},
                                         cfg.num_envs, start_iteration * cfg.num_envs)
        append_episodes(self.out / METRICS_FILE, episodes)
        for s, step, r in zip(episodes["seed"], episodes["step"], episodes["return"]):
            self.returns[s].append(float(r))
            self.steps[s].append(int(step))
            self.tb.add(f"seed_{s}/episode_return", float(r), int(step))
        end_steps = (start_iteration + done.shape[0]) * cfg.num_envs
        sps = done.shape[0] * cfg.num_envs * cfg.num_seeds / seconds
        self.sps.append(sps)
        loss = np.asarray(m["loss"])
        loss = float(np.nanmean(loss)) if np.isfinite(loss).any() else float("nan")
        epsilon = float(np.asarray(m["epsilon"])[-1].mean())
        means = [np.mean(r[-SOLVE_WINDOW:]) for r in self.returns if r]
        mean100 = float(np.mean(means)) if means else float("nan")
        self.writers["progress.csv"].writerow([end_steps, end_steps * FRAMES_PER_STEP, round(total_seconds, 3),
                                               round(sps, 1), loss, epsilon, sum(map(len, self.returns)), mean100])
        for name, value in (("loss", loss), ("sps", sps), ("epsilon", epsilon), ("mean_return_last100", mean100)):
            if np.isfinite(value):
                self.tb.add(f"mean_over_seeds/{name}", value, end_steps)
        threshold = solve_threshold(cfg.env_id)
        for s, r in enumerate(self.returns):
            if threshold is not None and self.solved[s] is None and len(r) >= SOLVE_WINDOW \
                    and np.mean(r[-SOLVE_WINDOW:]) > threshold:
                self.solved[s] = {"env_steps": end_steps, "frames": end_steps * FRAMES_PER_STEP,
                                  "seconds": round(total_seconds, 1), "episodes": len(r)}
        self.last = {"loss": loss, "sps": sps, "mean100": mean100, "epsilon": epsilon}
        self._flush()

    def evaluation(self, steps: int, returns) -> None:
        """The TensorBoard scalar of an evaluation (`returns [S, N]`; its eval.csv rows: `jaxrl.host.greedy`)."""
        self.tb.add("mean_over_seeds/eval_return", float(np.mean(returns)), steps)
        self._flush()

    def status(self) -> str:
        last = self.last
        return (f"{last['sps']:,.0f} SPS  loss {last['loss']:.4f}  "
                f"mean return (last {SOLVE_WINDOW}) {last.get('mean100', float('nan')):.1f}")

    def episodes(self) -> dict:
        seed = np.concatenate([[s] * len(r) for s, r in enumerate(self.steps)] or [[]]).astype(np.int64)
        return {"seed": seed, "step": np.concatenate([np.asarray(x, np.int64) for x in self.steps]),
                "return": np.concatenate([np.asarray(x, np.float64) for x in self.returns]),
                "length": np.zeros(len(seed), np.int64)}

    def summary(self, *, compile_seconds, run_seconds, total_seconds, final_eval, greedy_eval=None) -> dict:
        """`jaxrl.host.summary.run_summary` over the last `SOLVE_WINDOW` games, plus the Atari run's fields: the
        loop, frames, protocol, human-normalized scores, per seed when it was solved and its final evaluation."""
        cfg = self.config
        from jaxrl.host.summary import run_summary
        sps = float(np.median(self.sps)) if self.sps else None
        summary = run_summary(cfg, self.returns, SOLVE_WINDOW, run_seconds=run_seconds,
                              compile_seconds=compile_seconds, steps_per_second=sps, greedy_eval=greedy_eval)
        per_seed = summary["per_seed"]
        for s, seed in enumerate(per_seed):
            seed.update(solved=self.solved[s], final_eval_returns=[float(x) for x in np.asarray(final_eval)[s]])
        summary.update({
            "diverged_seeds": sorted(self.diverged), "loop": cfg.loop, "overlap": cfg.overlap, "num_envs": cfg.num_envs,
            "frames_per_seed": cfg.total_steps * FRAMES_PER_STEP, "atari_protocol": cfg.atari_protocol,
            "human_normalized": hns_aggregates(cfg.env_id, per_seed),
            "seeds_solved": sum(x is not None for x in self.solved),
            "aggregate_steps_per_second_note": "median over the chunks of this run (since its last resume), "
                                               "compile excluded",
            "total_seconds": total_seconds})
        return summary

    def _flush(self) -> None:
        for f in (*self.files.values(), self.actions):
            f.flush()
        self.tb.flush()

    def close(self) -> None:
        for f in (*self.files.values(), self.actions):
            f.close()
        self.tb.close()


def hns_aggregates(env_id: str, per_seed: list[dict]) -> dict | None:
    """IQM, mean, median with 95% CIs over the seeds of the human-normalized final / best means (None for a game
    without reference scores), and each seed's."""
    from jaxrl.host.stats import aggregates
    if human_normalized_score(env_id, 0.0) is None:
        return None
    out = {}
    for kind in ("final", "best"):
        scores = [human_normalized_score(env_id, s[f"{kind}_mean_return"]) if s[f"{kind}_mean_return"] is not None
                  else float("nan") for s in per_seed]
        out[kind] = {"per_seed": scores, **aggregates(scores, target=1.0)}
    return out
