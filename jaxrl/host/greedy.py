"""Greedy evaluations of a run's agents, gymnax and Atari alike: `eval.csv` rows and each agent's best parameters.

    DIR/eval.csv             one row per evaluation and agent: seed, step, mean_return, min_return, max_return,
                             games (`eval_episodes` whole episodes, epsilon = `eval_epsilon`, own env keys)
    DIR/params_best.msgpack  per agent, the parameters of its best evaluation so far (ties: the earlier, so at a
                             score ceiling such as CartPole's 500 the first policy to hold it; later ones that
                             merely match it need not be as good), stacked like params.msgpack;
                             `load_policy(run, i, which="best")`
"""

from __future__ import annotations

import csv
from pathlib import Path

import jax
import numpy as np

from jaxrl.config import DQNConfig
from jaxrl.host import rundir
from jaxrl.host.metrics import EVAL_COLUMNS, EVAL_FILE, eval_rows
from jaxrl.host.rundir import BEST_PARAMS_FILE


class GreedyEvals:
    """`evals(steps, params)` evaluates every agent (params stacked `[S]`) and keeps the best; `evals.record(steps,
    returns, params)` does the same with returns `[S, N]` already played. `evaluate(steps, params) -> returns [S, N]`
    plays the games (default: the compiled gymnax evaluation, `jaxrl.runners.evaluation`; an Atari run passes its
    envpool one)."""

    def __init__(self, config: DQNConfig, out: Path, num_agents: int, resume: bool, writer: bool = True,
                 evaluate=None):
        self.config, self.out, self.num_agents, self.writer = config, Path(out), num_agents, writer
        self.evaluate = evaluate if evaluate is not None else _compiled_gymnax_evaluation(config, num_agents)
        self.best = np.full(num_agents, -np.inf)
        self.last = np.full(num_agents, np.nan)
        self.best_params = None
        path = self.out / EVAL_FILE
        if resume and path.is_file():  # eval.csv was truncated to the checkpoint; rebuild the best from it
            with open(path, newline="") as f:
                for row in csv.DictReader(f):
                    s = int(row["seed"])
                    self.best[s] = max(self.best[s], float(row["mean_return"]))
                    self.last[s] = float(row["mean_return"])
            if (self.out / BEST_PARAMS_FILE).is_file():
                self.best_params = rundir.read_stacked_params(self.out / BEST_PARAMS_FILE)
        elif writer and not path.is_file():
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(EVAL_COLUMNS)

    def due(self, before: int, now: int, last: bool) -> bool:
        f = self.config.eval_frequency
        return bool(f) and (now // f > before // f or last)

    def __call__(self, steps: int, params) -> np.ndarray:
        return self.record(steps, self.evaluate(steps, params), params)

    def record(self, steps: int, returns, params) -> np.ndarray:
        """`eval.csv` rows for the evaluation at `steps` (`returns [S, N]`), and each agent's best parameters."""
        returns, params = np.asarray(returns), jax.device_get(params)  # a host copy: the run may donate its state
        self.last = returns.mean(axis=1)
        if self.writer:
            with open(self.out / EVAL_FILE, "a", newline="") as f:
                csv.writer(f).writerows(eval_rows(self.config.env_id, steps, returns))
        means = self.last
        better = means > self.best  # ties: the earlier parameters
        if better.any():
            self.best = np.where(better, means, self.best)
            self.best_params = params if self.best_params is None else jax.tree_util.tree_map(
                lambda new, old: np.where(better.reshape((-1,) + (1,) * (np.ndim(new) - 1)), new, old),
                params, self.best_params)
            if self.writer:
                rundir.write_stacked_params(self.out / BEST_PARAMS_FILE, self.best_params)
        return returns

    def summary(self) -> dict:
        """Aggregates (`jaxrl.host.stats`) of the agents' last and best greedy evaluation means."""
        from jaxrl.host.stats import aggregates
        best = np.where(np.isfinite(self.best), self.best, np.nan)
        return {"episodes_per_evaluation": self.config.eval_episodes, "epsilon": self.config.eval_epsilon,
                "last": aggregates(self.last), "best": aggregates(best),
                "per_seed_last": self.last.tolist(), "per_seed_best": best.tolist()}


def _compiled_gymnax_evaluation(config: DQNConfig, num_agents: int):
    """`(steps, params [S]) -> returns [S, eval_episodes]`: `jaxrl.runners.evaluation`'s program, each evaluation
    with its own keys."""
    from jaxrl.runners.evaluation import eval_keys, make_evaluate
    fn = jax.jit(jax.vmap(make_evaluate(config)))
    return lambda steps, params: np.asarray(fn(params, eval_keys(config, steps, num_agents)))
