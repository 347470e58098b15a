"""`jaxrl evaluate RUN`: a gymnax run's saved policies played in Gymnasium's own env (an independent check of
what the run learned: another implementation of the same env, other seeds, no exploration but `--epsilon`).

    DIR/evaluate-<which>.json   per agent: the returns of each episode and their mean; the aggregates
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrl.config.solved import solve_threshold
from jaxrl.host import rundir, stats

GYMNASIUM_IDS = {"CartPole-v1": "CartPole-v1", "Acrobot-v1": "Acrobot-v1", "MountainCar-v0": "MountainCar-v0"}
"""gymnax ids whose env Gymnasium also has, with the same dynamics, limits and rewards."""


def evaluate_run(run: Path, *, episodes: int, which: str = "final", seed: int = 0, epsilon: float = 0.0,
                 say=lambda line: None) -> dict:
    """Play `episodes` episodes per agent of the run in Gymnasium; -> the report (the caller writes it to
    `report_path(report)`, after printing it)."""
    import gymnasium as gym

    from jaxrl.host.policy import load_policy
    run = Path(run)
    meta, _ = rundir.read_dqn_config(run)
    env_id = meta["config"]["env_id"]
    if env_id not in GYMNASIUM_IDS:
        raise ValueError(f"{run}: env {env_id!r} has no Gymnasium twin to evaluate in (supported: "
                         f"{', '.join(GYMNASIUM_IDS)})")
    agents = _num_agents(meta)
    rng = np.random.default_rng(seed)
    per_agent = []
    policies = [load_policy(run, i, which=which) for i in range(agents)]  # every file checked before playing
    say(f"evaluating {run}: {agents} agent(s) x {episodes} episode(s) of {GYMNASIUM_IDS[env_id]} ({which} "
        "parameters) ...")
    for i, act in enumerate(policies):
        env = gym.make(GYMNASIUM_IDS[env_id])
        returns = []
        for e in range(episodes):
            obs, _ = env.reset(seed=seed * 1_000_003 + i * 10_007 + e)
            done, total = False, 0.0
            while not done:
                action = env.action_space.sample() if rng.random() < epsilon else act(obs)
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        env.close()
        per_agent.append({"agent": i, "returns": returns, "mean_return": float(np.mean(returns))})
    means = np.array([a["mean_return"] for a in per_agent])
    threshold = solve_threshold(env_id)
    report = {"run": str(run), "env_id": env_id, "gymnasium_id": GYMNASIUM_IDS[env_id], "which": which,
              "episodes_per_agent": episodes, "epsilon": epsilon, "seed": seed, "per_agent": per_agent,
              "aggregates": stats.aggregates(means, target=threshold)}
    if threshold is not None:
        report["threshold"] = threshold
        report["agents_reaching_threshold"] = int((means >= threshold).sum())
    return report


def report_path(report: dict) -> Path:
    """Where `evaluate_run`'s report is written: `RUN/evaluate-<which>.json`."""
    return Path(report["run"]) / f"evaluate-{report['which']}.json"


def _num_agents(meta: dict) -> int:
    from jaxrl.config import DQNConfig
    return DQNConfig.from_dict(meta["config"]).sweep_size


def print_report(report: dict) -> None:
    """One line per agent, then the IQM and mean with their CIs (and the agents reaching the threshold)."""
    from rich.console import Console
    console = Console()
    for a in report["per_agent"]:
        console.print(f"agent {a['agent']}: mean return {a['mean_return']:.1f} over {len(a['returns'])} episodes")
    agg = report["aggregates"]
    reached = (f"; {report['agents_reaching_threshold']}/{len(report['per_agent'])} agents >= {report['threshold']:g}"
               if "threshold" in report else "")
    console.print(f"{report['gymnasium_id']} ({report['which']} parameters): IQM {stats.format_ci(agg['iqm'])}, "
                  f"mean {stats.format_ci(agg['mean'])}{reached}")
