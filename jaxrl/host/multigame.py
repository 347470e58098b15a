"""`jaxrl compare --group NAME=RUN,RUN,... ...`: groups of runs over several Atari games, in human-normalized score.

    group      one run per game (each run's seeds are that game's runs), e.g. one algorithm over Atari-5
    scores     `[seeds, games]` HNS (`jaxrl.config.atari_scores`) of each seed's final (or best) mean return over
               its last `window` games
    aggregates IQM, mean, median and optimality gap (to HNS 1, human level) over seeds x games, with 95%
               stratified bootstrap CIs that resample seeds within each game (`jaxrl.host.stats`, rliable's
               definitions); probability of improvement averaged over games; performance profiles over HNS

Every group must cover the same games with the same number of seeds per game, and every game needs reference
scores; otherwise a `ValueError` with one line. Writes compare.json and compare.png like `compare`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxrl.host import stats

PROFILE_TAUS = np.linspace(0.0, 2.0, 81)  # HNS thresholds of the performance profiles


def parse_groups(specs) -> dict[str, list[Path]]:
    """`["dqn=a,b", "rainbow=c,d"]` -> {"dqn": [a, b], ...}; `ValueError` for a malformed or repeated name."""
    groups: dict[str, list[Path]] = {}
    for spec in specs:
        name, sep, runs = spec.partition("=")
        paths = [Path(r) for r in runs.split(",") if r.strip()]
        if not sep or not name.strip() or not paths:
            raise ValueError(f"--group {spec!r}: expected NAME=RUN[,RUN...]")
        if name in groups:
            raise ValueError(f"--group {name} is given twice: list all its runs in one --group")
        groups[name] = paths
    return groups


def load_game_scores(groups: dict[str, list[Path]], window: int) -> dict:
    """-> {group: {game: {"final": [seeds], "best": [seeds]} raw scores}} after every check (module docstring)."""
    from jaxrl.config.atari_scores import REFERENCE_SCORES
    from jaxrl.host import rundir
    from jaxrl.host.compare import Group, seed_scores
    from jaxrl.host.metrics import read_episodes
    out = {}
    for name, runs in groups.items():
        games = {}
        for run in runs:
            try:
                meta, config = rundir.read_dqn_config(run)
            except FileNotFoundError as e:
                raise ValueError(f"--group {name}: {run} is not a jaxrl DQN run ({e})") from None
            game = config.env_id
            if game not in REFERENCE_SCORES:
                raise ValueError(f"--group {name}: {run} is a run of {game}, which has no random and human reference "
                                 "scores (multi-game groups are compared in human-normalized score)")
            if game in games:
                raise ValueError(f"--group {name}: two runs of {game} ({games[game]['run']} and {run}): one run per game")
            path = run / rundir.METRICS_FILE
            if not path.is_file():
                raise ValueError(f"{run}: no {rundir.METRICS_FILE} (the run wrote no episodes)")
            group = Group(name, game, config.total_steps, read_episodes(path), config.num_seeds)
            final, best = seed_scores(group, window)
            games[game] = {"run": str(run), "final": final, "best": best, "protocol": config.atari_protocol,
                           "seeds": config.num_seeds}
        out[name] = games
    sets = {name: sorted(games) for name, games in out.items()}
    first = next(iter(sets.values()))
    for name, games in sets.items():
        if games != first:
            a = next(iter(sets))
            raise ValueError(f"groups cover different games: {a}: {', '.join(first)}; {name}: {', '.join(games)}")
    seeds = {(name, g): v["seeds"] for name, games in out.items() for g, v in games.items()}
    if len(set(seeds.values())) > 1:
        raise ValueError("every game of every group needs the same number of seeds (the scores are seeds x games): "
                         + ", ".join(f"{n}/{g}: {s}" for (n, g), s in seeds.items()))
    return out


def hns_matrix(games: dict, kind: str) -> tuple[list[str], np.ndarray]:
    """(games in order, `[seeds, games]` human-normalized `kind` scores)."""
    from jaxrl.config.atari_scores import human_normalized_score
    names = sorted(games)
    columns = [[human_normalized_score(g, float(x)) if np.isfinite(x) else np.nan for x in games[g][kind]]
               for g in names]
    return names, np.array(columns, np.float64).T


def analyse_games(groups: dict[str, list[Path]], *, window: int = 100, reps: int = stats.REPS):
    """-> (the comparison as a dict, {group: final HNS `[seeds, games]`}): nothing written."""
    scores = load_game_scores(groups, window)
    rows, finals = [], {}
    for name, games in scores.items():
        order, final = hns_matrix(games, "final")
        _, best = hns_matrix(games, "best")
        finals[name] = final
        per_game = {g: {"run": games[g]["run"], "atari_protocol": games[g]["protocol"],
                        "final_mean_score": _mean(games[g]["final"]), "final_mean_hns": _mean(final[:, i]),
                        "seeds_with_a_score": int(np.isfinite(final[:, i]).sum())} for i, g in enumerate(order)}
        rows.append({"group": name, "games": order, "seeds_per_game": int(final.shape[0]),
                     "final_hns": stats.aggregates(final, target=1.0, reps=reps),
                     "best_hns": stats.aggregates(best, target=1.0, reps=reps), "per_game": per_game})
    pairs = []
    names = list(finals)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            x, y = (finals[n][np.isfinite(finals[n]).all(axis=1)] for n in (a, b))
            ci = stats.interval_pair(x, y, stats.probability_of_improvement, reps=min(reps, 1000))
            pairs.append({"x": a, "y": b, "probability_of_improvement": stats.probability_of_improvement(x, y)
                          if len(x) and len(y) else None, "ci": list(ci) if ci else None})
    protocols = sorted({v["protocol"] for games in scores.values() for v in games.values()})
    result = {"games": rows[0]["games"], "atari_protocol": protocols, "window_episodes": window,
              "score": f"human-normalized final mean return over {window} games per seed, seeds x games",
              "groups": rows, "probability_of_improvement": pairs,
              "performance_profile": {"hns": PROFILE_TAUS.tolist(),
                                      **{n: [float(np.mean(f[np.isfinite(f)] > t)) for t in PROFILE_TAUS]
                                         for n, f in finals.items()}},
              "ci": "95% stratified bootstrap (percentile) resampling seeds within each game, rliable's definitions"}
    return result, finals


def _mean(x) -> float | None:
    """The mean of the finite values (None without any: no seed finished a game)."""
    x = np.asarray(x, np.float64)
    return float(x[np.isfinite(x)].mean()) if np.isfinite(x).any() else None


def write_games(out: Path, result: dict) -> None:
    """compare.json and compare.png (per-group IQM of HNS with its CI; performance profiles), each renamed into
    place at the end."""
    import os

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxrl.host import rundir
    from jaxrl.host.compare import COMPARE_JSON, COMPARE_PNG
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig, (bars, prof) = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, row in enumerate(result["groups"]):
        agg = row["final_hns"].get("iqm")
        if agg:
            lo, hi = agg["ci"] or (agg["value"], agg["value"])
            bars.errorbar([agg["value"]], [i], xerr=[[agg["value"] - lo], [hi - agg["value"]]], fmt="o", capsize=4)
    bars.set_yticks(range(len(result["groups"])), [r["group"] for r in result["groups"]])
    bars.set(xlabel="IQM of human-normalized score (95% CI)", title=f"{len(result['games'])} games: "
             + ", ".join(g.replace("-v5", "") for g in result["games"]))
    taus = result["performance_profile"]["hns"]
    for row in result["groups"]:
        prof.plot(taus, result["performance_profile"][row["group"]], lw=2, label=row["group"])
    prof.set(xlabel="human-normalized score τ", ylabel="fraction of runs with score > τ", title="performance profile")
    prof.legend(fontsize=8)
    prof.grid(alpha=0.3)
    fig.tight_layout()
    tmp_png, tmp_json = out / ("tmp-" + COMPARE_PNG), out / (COMPARE_JSON + ".tmp")
    try:
        fig.savefig(tmp_png, dpi=110)
        rundir.write_json(tmp_json, result)
        os.replace(tmp_json, out / COMPARE_JSON)
        os.replace(tmp_png, out / COMPARE_PNG)
    finally:
        plt.close(fig)
        tmp_png.unlink(missing_ok=True)
        tmp_json.unlink(missing_ok=True)


def print_games(result: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    table = Table(title=f"{len(result['games'])} games, {result['score']}; 95% CIs")
    for col in ("group", "seeds x games", "IQM HNS", "mean HNS", "median HNS", "optimality gap"):
        table.add_column(col, justify="right")
    for row in result["groups"]:
        f = row["final_hns"]
        cell = lambda k: stats.format_ci(f[k], 2) if k in f else "-"  # noqa: E731
        table.add_row(row["group"], f"{row['seeds_per_game']} x {len(row['games'])}", cell("iqm"), cell("mean"),
                      cell("median"), cell("optimality_gap"))
    console.print(table)
    games = Table(title="per game: mean final score (HNS)")
    games.add_column("game")
    for row in result["groups"]:
        games.add_column(row["group"], justify="right")
    for g in result["games"]:
        games.add_row(g, *[f"{r['per_game'][g]['final_mean_score']:.1f} ({r['per_game'][g]['final_mean_hns']:.2f})"
                           if r["per_game"][g]["final_mean_score"] is not None else "no finished game"
                           for r in result["groups"]])
    console.print(games)
    for p in result["probability_of_improvement"]:
        if p["probability_of_improvement"] is not None:
            ci = f" [{p['ci'][0]:.2f}, {p['ci'][1]:.2f}]" if p["ci"] else ""
            console.print(f"P({p['x']} > {p['y']}) = {p['probability_of_improvement']:.2f}{ci}")
