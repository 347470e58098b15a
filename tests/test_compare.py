"""Greedy evaluations of gymnax runs (eval.csv, params_best.msgpack, load_policy(which=)), `jaxrl evaluate`
(Gymnasium-side returns) and `jaxrl compare` (tables, probability of improvement, compare.json/png, errors)."""

import csv
import json

import numpy as np
import pytest

from jaxrl.cli import main
from tests.test_pong import flags_with

TINY = ["--preset", "cartpole-course", "--total-steps", "4000", "--learning-starts", "1000", "--buffer-size", "2000",
        "--log-frequency", "1000", "--eval-frequency", "2000", "--eval-episodes", "3", "--no-progress",
        "--cpu-devices", "1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    made = {"a": root / "a", "one": root / "one", "grid": root / "grid", "acrobot": root / "acro"}
    assert main(["train", *TINY, "--num-seeds", "3", "--out-dir", str(made["a"])]) == 0
    assert main(["train", *TINY, "--num-seeds", "1", "--out-dir", str(made["one"])]) == 0
    assert main(["train", *TINY, "--num-seeds", "2", "--grid", "gamma=0.9,0.99", "--out-dir", str(made["grid"])]) == 0
    assert main(["train", *TINY, "--env-id", "Acrobot-v1", "--num-seeds", "1", "--out-dir",
                 str(made["acrobot"])]) == 0
    return made


def _evals(run):
    with open(run / "eval.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_greedy_evaluations_and_best_parameters(runs):
    rows = _evals(runs["a"])
    # evaluations at the chunk ends that cross a multiple of 2,000 env steps, and at the end
    assert sorted({int(r["step"]) for r in rows}) == [2000, 4000]
    assert all(int(r["games"]) == 3 for r in rows) and len(rows) == 6
    summary = json.loads((runs["a"] / "summary.json").read_text())
    best = [max(float(r["mean_return"]) for r in rows if int(r["seed"]) == s) for s in range(3)]
    np.testing.assert_allclose(summary["greedy_eval"]["per_seed_best"], best, rtol=1e-6)
    from jaxrl import load_policy
    obs = np.array([0.01, 0.2, -0.03, -0.3], np.float32)
    for which in ("final", "best"):
        assert load_policy(runs["a"], 1, which=which)(obs) in (0, 1)


def test_best_parameters_are_those_of_the_best_evaluation(runs, tmp_path):
    """params_best of each seed equals its final params exactly when its last evaluation was its best (ties: the
    earlier), and the greedy evaluation's seed keys do not touch training: a run without evaluations has the same
    params."""
    from jaxrl.host.rundir import read_stacked_params
    rows = _evals(runs["a"])
    final, best = (read_stacked_params(runs["a"] / f) for f in ("params.msgpack", "params_best.msgpack"))
    leaf = lambda t: t["params"]["head"]["q_out"]["kernel"]  # noqa: E731
    for s in range(3):
        mine = [float(r["mean_return"]) for r in rows if int(r["seed"]) == s]
        assert np.array_equal(leaf(best)[s], leaf(final)[s]) == (mine[-1] > max(mine[:-1])), (s, mine)
    assert main(["train", *flags_with(TINY, eval_frequency=0), "--num-seeds", "3",
                 "--out-dir", str(tmp_path / "noeval")]) == 0
    assert (tmp_path / "noeval" / "params.msgpack").read_bytes() == (runs["a"] / "params.msgpack").read_bytes()
    assert not (tmp_path / "noeval" / "params_best.msgpack").exists()
    with pytest.raises(FileNotFoundError, match="train with --eval-frequency"):
        from jaxrl import load_policy
        load_policy(tmp_path / "noeval", 0, which="best")


def test_evaluate_in_gymnasium(runs, capsys):
    assert main(["evaluate", str(runs["a"]), "--episodes", "2", "--which", "best"]) == 0
    report = json.loads((runs["a"] / "evaluate-best.json").read_text())
    assert report["gymnasium_id"] == "CartPole-v1" and len(report["per_agent"]) == 3
    assert all(len(a["returns"]) == 2 and 1 <= a["mean_return"] <= 500 for a in report["per_agent"])
    assert "IQM" in capsys.readouterr().out
    # the same policies and reset seeds give the same returns
    assert main(["evaluate", str(runs["a"]), "--episodes", "2", "--which", "best"]) == 0
    assert json.loads((runs["a"] / "evaluate-best.json").read_text())["per_agent"] == report["per_agent"]


def test_compare_two_runs(runs, tmp_path, capsys):
    """A plain run against a grid run: one group per run or grid point, a pair per two groups."""
    out = tmp_path / "cmp"
    assert main(["compare", str(runs["a"]), str(runs["grid"]), "--out", str(out)]) == 0
    result = json.loads((out / "compare.json").read_text())
    assert [g["group"] for g in result["groups"]] == ["a", "grid gamma=0.9", "grid gamma=0.99"]
    assert [g["final"]["runs"] for g in result["groups"]] == [3, 2, 2]
    assert all(g["final"]["iqm"]["ci"] is not None for g in result["groups"])
    assert len(result["probability_of_improvement"]) == 3
    pair = result["probability_of_improvement"][0]
    assert 0.0 <= pair["probability_of_improvement"] <= 1.0 and pair["ci"][0] <= pair["ci"][1]
    assert (out / "compare.png").stat().st_size > 10_000
    assert "P(a > grid gamma=0.9)" in capsys.readouterr().out


def test_compare_grid_points_of_one_run(runs, tmp_path):
    from jaxrl.host.compare import compare
    result = compare([runs["grid"]], tmp_path, reps=200)
    assert [g["group"] for g in result["groups"]] == ["grid gamma=0.9", "grid gamma=0.99"]
    assert all(g["seeds"] == 2 for g in result["groups"])


@pytest.mark.parametrize("which,expected", [
    ("acrobot", "runs on different envs cannot be compared: Acrobot-v1, CartPole-v1"),
    ("missing", "not a jaxrl DQN run"),
])
def test_compare_errors_are_one_line(runs, tmp_path, capsys, which, expected):
    other = runs["acrobot"] if which == "acrobot" else tmp_path / "nothing"
    assert main(["compare", str(runs["a"]), str(other), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxrl: error: ") and expected in err and err.count("\n") == 0


def test_compare_one_seed_reports_point_estimates(runs, tmp_path, capsys):
    assert main(["compare", str(runs["one"]), str(runs["a"]), "--out", str(tmp_path / "o")]) == 0
    result = json.loads((tmp_path / "o" / "compare.json").read_text())
    one = result["groups"][0]["final"]
    assert one["iqm"]["ci"] is None and "at least 2 runs" in one["ci_note"]
    assert "at least 2 runs" in capsys.readouterr().out


def test_run_without_episodes_is_refused(runs, tmp_path, capsys):
    import shutil
    empty = tmp_path / "empty"
    shutil.copytree(runs["one"], empty)
    lines = (empty / "metrics.csv").read_text().splitlines()
    (empty / "metrics.csv").write_text(lines[0] + "\n")
    assert main(["compare", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no finished episodes" in capsys.readouterr().err


def test_evaluate_refuses_an_env_without_a_gymnasium_twin_and_a_run_without_best(runs, tmp_path, capsys):
    import shutil
    run = tmp_path / "r"
    shutil.copytree(runs["one"], run)
    meta = json.loads((run / "config.json").read_text())
    meta["config"]["env_id"] = "Breakout-MinAtar"
    (run / "config.json").write_text(json.dumps(meta))
    assert main(["evaluate", str(run)]) == 2
    assert "has no Gymnasium twin" in capsys.readouterr().err


@pytest.mark.parametrize("flags,expected", [
    (["--episodes", "0"], "--episodes=0: expected an integer > 0"),
    (["--epsilon", "nan"], "--epsilon=nan: expected a number in [0, 1]"),
    (["--epsilon", "1.5"], "--epsilon=1.5: expected a number in [0, 1]"),
    (["--seed", "-1"], "--seed=-1: expected an integer >= 0"),  # not numpy's bare "expected non-negative integer"
])
def test_evaluate_names_each_bad_flag(runs, capsys, flags, expected):
    assert main(["evaluate", str(runs["one"]), *flags]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err


def test_window_longer_than_the_run_is_explained(tmp_path, capsys):
    out = tmp_path / "w"
    assert main(["train", *TINY, "--num-seeds", "1", "--window", "5000", "--out-dir", str(out)]) == 0
    assert "finished fewer than --window=5000 episodes" in capsys.readouterr().err
    assert (out / "learning_curves.png").is_file()


def test_version_and_loss_column_format(capsys):
    from jaxrl import __version__
    from jaxrl.host.summary import print_summary
    assert main(["--version"]) == 0 and capsys.readouterr().out.strip() == f"jaxrl {__version__}"
    from rich.console import Console
    console = Console(width=200, file=__import__("io").StringIO())
    summary = {"window_episodes": 10, "per_seed": [
        {"seed_index": 0, "episodes": 5, "final_mean_return": 10.0, "best_mean_return": 12.0, "final_loss": 1.0},
        {"seed_index": 1, "episodes": 5, "final_mean_return": 10.0, "best_mean_return": 12.0, "final_loss": 0.3414}],
        "aggregate_steps_per_second": 1.0, "num_seeds": 2, "run_seconds": 1.0, "compile_seconds": 1.0,
        "devices": ["cpu:0"]}
    print_summary(summary, console)
    text = console.file.getvalue()
    assert "1.000" in text and "0.3414" in text  # one format (4 significant digits) for the whole column
