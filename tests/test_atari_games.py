"""Atari beyond Pong: any envpool game, the two protocols (course, machado), human-normalized scores, and
multi-game `compare` (seeds x games, stratified over games)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from jaxrl.cli import main
from jaxrl.config import DQNConfig, protocol_options
from jaxrl.config.atari_scores import REFERENCE_SCORES, human_normalized_score
from jaxrl.config.solved import solve_threshold
from jaxrl.envs.envpool_env import env_spec, make_envpool
from jaxrl.host import stats

from benchmarks.atari5 import TINY as ATARI5_TINY

# `benchmarks.atari5 --tiny`'s runs, so that its test below finds their programs in the compilation cache
TINY = ["--preset", "pong", "--num-seeds", "2", "--total-steps", "2048", *ATARI5_TINY, "--no-video", "--no-progress"]


@pytest.mark.parametrize("protocol,actions,sticky,life,noops,fire", [
    ("course", 4, 0.0, True, 30, True),
    ("machado", 18, 0.25, False, 1, False),
])
def test_protocol_options_reach_envpool(protocol, actions, sticky, life, noops, fire):
    env = make_envpool("Breakout-v5", 1, 0, protocol=protocol)
    try:
        assert env.action_space.n == actions == env_spec("Breakout-v5", protocol)[0]
        assert env.config["repeat_action_probability"] == sticky
        assert env.config["episodic_life"] is life and env.config["noop_max"] == noops
        assert env.config["use_fire_reset"] is fire and env.config["max_episode_steps"] == 27_000
        assert env.config["reward_clip"] is True
    finally:
        env.close()
    evaluation = make_envpool("Breakout-v5", 1, 0, protocol=protocol, evaluation=True)
    try:  # evaluation: whole games, raw rewards, under the same protocol otherwise
        assert evaluation.config["episodic_life"] is False and evaluation.config["reward_clip"] is False
        assert evaluation.config["repeat_action_probability"] == sticky
    finally:
        evaluation.close()


def test_human_normalized_scores_by_hand():
    assert len(REFERENCE_SCORES) == 57
    assert human_normalized_score("Breakout-v5", 30.5) == pytest.approx(1.0)  # the human score
    assert human_normalized_score("Pong-v5", 0.0) == pytest.approx(20.7 / 35.3)  # (0 + 20.7) / (14.6 + 20.7)
    assert human_normalized_score("Qbert-v5", 1000.0) == pytest.approx(836.1 / 13291.1)  # (1000 - 163.9) / ...
    assert human_normalized_score("CartPole-v1", 500.0) is None
    assert solve_threshold("Pong-v5") == 18.0 and solve_threshold("Qbert-v5") == 13455.0
    assert solve_threshold("CartPole-v1") == 475.0 and solve_threshold("Breakout-MinAtar") is None  # one criterion


def _fake_run(path: Path, env_id: str, returns: list[float]) -> Path:
    """A run directory holding only what `compare` reads: config.json and metrics.csv, one game per seed."""
    path.mkdir(parents=True)
    config = DQNConfig(env_id=env_id, num_seeds=len(returns), total_steps=10_000, learning_starts=1_000)
    (path / "config.json").write_text(json.dumps({"config": config.to_dict()}))
    with open(path / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seed", "step", "return", "length"])
        w.writerows([s, 5000, r, 100] for s, r in enumerate(returns))
    return path


def test_multi_game_compare_equals_hand_computed_iqm(tmp_path, capsys):
    """Two groups over Breakout and Qbert, 4 seeds each, one game per seed (window 1): IQM of the 8 HNS values =
    the mean of the middle 4; P(improvement) averaged over the two games; groups with other games refused."""
    b, q = REFERENCE_SCORES["Breakout-v5"], REFERENCE_SCORES["Qbert-v5"]
    breakout, qbert = [1.7, 16.1, 30.5, 59.3], [163.9, 6809.45, 13455.0, 26746.1]  # HNS 0, .5, 1, 2 each
    a = [_fake_run(tmp_path / "a" / g, f"{g}-v5", r) for g, r in (("Breakout", breakout), ("Qbert", qbert))]
    worse = [_fake_run(tmp_path / "b" / g, f"{g}-v5", [b[0]] * 4 if g == "Breakout" else [q[0]] * 4)
             for g in ("Breakout", "Qbert")]
    out = tmp_path / "out"
    assert main(["compare", "--group", f"dqn={a[0]},{a[1]}", "--group", f"random={worse[0]},{worse[1]}",
                 "--window", "1", "--out", str(out)]) == 0
    result = json.loads((out / "compare.json").read_text())
    dqn = result["groups"][0]
    hns = np.sort([0, .5, 1, 2, 0, .5, 1, 2])
    assert dqn["final_hns"]["iqm"]["value"] == pytest.approx(hns[2:6].mean(), abs=1e-6)  # 0.75
    assert dqn["final_hns"]["mean"]["value"] == pytest.approx(0.875, abs=1e-6)
    assert dqn["final_hns"]["optimality_gap"]["value"] == pytest.approx(1 - np.minimum(hns, 1).mean(), abs=1e-6)
    assert dqn["per_game"]["Qbert-v5"]["final_mean_hns"] == pytest.approx(0.875, abs=1e-6)
    pair, = result["probability_of_improvement"]
    assert pair["probability_of_improvement"] == pytest.approx(0.875)  # 3 of 4 above, 1 tie (half), per game
    assert result["games"] == ["Breakout-v5", "Qbert-v5"] and (out / "compare.png").is_file()
    capsys.readouterr()
    other = _fake_run(tmp_path / "c" / "Pong", "Pong-v5", [0.0] * 4)
    assert main(["compare", "--group", f"dqn={a[0]},{a[1]}", "--group", f"x={worse[0]},{other}",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "groups cover different games" in err


def test_stratified_bootstrap_resamples_within_games():
    """Each game's column is resampled on its own: a resample never moves a score to another game."""
    scores = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])  # [seeds, games]
    lo, hi = stats.interval(scores, lambda r: float(r[:, 0].max() < 5 and r[:, 1].min() >= 10), reps=200)
    assert lo == hi == 1.0


@pytest.mark.parametrize("argv,expected", [
    (["train", "--env-id", "Breakoutt-v5"], "nor an envpool Atari game"),
    (["train", "--env-id", "Breakout-v5", "--atari-protocol", "dopamine"], "DQNConfig.atari_protocol"),
    (["compare", "--group", "a=", "--out", "{tmp}"], "expected NAME=RUN"),
])
def test_bad_atari_input_is_one_line(tmp_path, capsys, argv, expected):
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("jaxrl: error: ") and expected in err, err


def test_a_missing_rom_is_named(tmp_path, capsys, monkeypatch):
    """envpool's C++ aborts the process on a missing ROM: the run is refused first, naming the file."""
    import os.path
    real = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda p: False if str(p).endswith("breakout.bin") else real(p))
    assert main(["train", *TINY, "--env-id", "Breakout-v5", "--out-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "breakout.bin is missing" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("game,loop,protocol", [("Breakout-v5", "host", "course"),
                                                ("SpaceInvaders-v5", "xla", "machado")])
def test_tiny_runs_of_more_games(tmp_path, game, loop, protocol):
    """A tiny run of more games through `jaxrl train` (both loops, both protocols; `test_atari5_tiny` checks its two
    games' runs, under machado in the XLA loop, the same way)."""
    out = tmp_path / "run"
    assert main(["train", *TINY, "--env-id", game, "--loop", loop, "--atari-protocol", protocol,
                 "--out-dir", str(out)]) == 0
    check_game_run(out, game, protocol)


def check_game_run(out: Path, game: str, protocol: str):
    """A finished run of `game`: its action count, the protocol and its HNS in config.json / summary.json /
    eval.csv."""
    meta = json.loads((out / "config.json").read_text())
    assert meta["config"]["atari_protocol"] == protocol and meta["env"]["atari_protocol"] == protocol
    assert meta["env"]["num_actions"] == env_spec(game, protocol)[0] == (18 if protocol == "machado" else
                                                                        env_spec(game)[0])
    assert meta["env"]["envpool_options"] == protocol_options(protocol)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["atari_protocol"] == protocol and summary["env_id"] == game
    assert summary["solve_threshold"] == REFERENCE_SCORES[game][1] and summary["human_normalized"] is not None
    with open(out / "eval.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert float(row["mean_hns"]) == pytest.approx(human_normalized_score(game, float(row["mean_return"])), abs=1e-3)


def test_atari5_tiny(tmp_path):
    """`python -m benchmarks.atari5 --tiny` on two of the five games (CI time): tiny runs under the machado protocol
    in the XLA loop (each checked as `test_tiny_runs_of_more_games` checks its runs), then the multi-game compare
    (HNS over seeds x games, a per-game table), each game's env steps and whether the deadline cut it."""
    from benchmarks.atari5 import GAMES, main as atari5
    games = ["Qbert-v5", "Phoenix-v5"]
    assert set(games) <= set(GAMES)
    assert atari5(["--tiny", "--games", ",".join(games), "--out", str(tmp_path), "--deadline", "900"]) == 0
    record = json.loads((tmp_path / "atari5.json").read_text())
    assert [g["game"] for g in record["games"]] == games and record["protocol"] == "machado"
    assert all(g["env_steps_reached"] == 2048 and not g["partial"] for g in record["games"])
    for game in games:
        check_game_run(tmp_path / "runs" / game.removesuffix("-v5"), game, "machado")
    result = json.loads((tmp_path / "compare.json").read_text())
    group, = result["groups"]
    assert result["games"] == sorted(games) and group["seeds_per_game"] == 2 and result["atari_protocol"] == ["machado"]
    assert set(group["per_game"]) == set(games) and group["final_hns"]["runs"] <= 2
