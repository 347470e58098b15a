"""Atari-5 (Aitchison et al. 2023, "Atari-5: Distilling the Arcade Learning Environment down to Five Games": the
five games whose scores best predict the 57-game median): one `jaxrl train` run of S seeds per game, then
`jaxrl compare --group` over the five in human-normalized score (IQM with a 95% stratified-bootstrap CI over
seeds x games, and a per-game table).

    python -m benchmarks.atari5 [--seeds 4] [--steps 500000] [--deadline 3600] [--protocol machado]
                                [--preset pong-fast] [--train-args='...'] [--out DIR] [--tiny] [--games G,G]

Each game gets an equal share of the time left before `--deadline` (seconds from the start) and a budget of
`--steps` env steps per agent; a run that reaches its share first is stopped with SIGTERM (it checkpoints at a
chunk end and exits 130) and its scores are those of the games it finished, labelled `partial` with the env
steps it reached: never extrapolated. Writes into `--out` (default `benchmarks/results/atari5-<protocol>-<date>/`):
`compare.json`, `compare.png` and `atari5.json` (the commands, each game's env steps reached and whether it was
cut, the machine); the run directories under `runs/` are git-ignored. `--tiny` shrinks everything so that the
benchmark runs on a CPU in minutes; `--games` runs a subset (the test suite's check runs two games, tiny). A tiny
run finishes few games (a game ends only at game over under the machado protocol): a seed without a finished game
of every game has no HNS row, and the CI covers the seeds that have one.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

GAMES = ("BattleZone-v5", "DoubleDunk-v5", "NameThisGame-v5", "Phoenix-v5", "Qbert-v5")
# --tiny: the `pong` preset's learner on 1 env, one update (batch 8) per 16 env steps, a 2k buffer, 2,048 env steps
TINY = ["--num-envs", "1", "--train-frequency", "16", "--learning-starts", "1008", "--buffer-size", "2000",
        "--batch-size", "8", "--log-frequency", "512", "--eval-frequency", "0", "--eval-episodes", "1",
        "--eval-epsilon", "1.0", "--checkpoint-frequency", "0"]


def run_game(game: str, run_dir: Path, args, budget: float) -> dict:
    """`jaxrl train` of one game in a child process for at most `budget` seconds (SIGTERM when out of time)."""
    cmd = [sys.executable, "-m", "jaxrl", "train", "--preset", args.preset, "--env-id", game, "--atari-protocol",
           args.protocol, "--num-seeds", str(args.seeds), "--total-steps", str(args.steps),
           *(TINY if args.tiny else []), "--no-video", "--no-progress", *shlex.split(args.train_args),
           "--out-dir", str(run_dir)]
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    cut = False
    try:
        child.wait(timeout=max(1.0, budget))
    except subprocess.TimeoutExpired:
        cut = True
        child.send_signal(signal.SIGTERM)  # checkpoint at the end of the running chunk, exit 130
        try:
            child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    progress = run_dir / "progress.csv"
    rows = progress.read_text().splitlines()[1:] if progress.is_file() else []
    reached = int(rows[-1].split(",")[0]) if rows else 0
    return {"game": game, "command": shlex.join(cmd[2:]), "exit_status": child.returncode,
            "seconds": time.perf_counter() - start, "env_steps_reached": reached, "env_steps_budget": args.steps,
            "partial": cut or reached < args.steps}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.atari5", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--steps", type=int, default=500_000, help="env steps per agent and game")
    p.add_argument("--deadline", type=float, default=3600.0, help="seconds for all five games")
    p.add_argument("--protocol", default="machado", help="--atari-protocol of every run (default machado)")
    p.add_argument("--preset", default="pong-fast")
    p.add_argument("--train-args", default="", help="more `jaxrl train` flags, one string")
    p.add_argument("--window", type=int, default=100, help="games per seed score (default 100, the runs' window)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--tiny", action="store_true", help="tiny sizes: a CPU check of the whole benchmark")
    p.add_argument("--games", default=",".join(GAMES), help="comma-separated envpool ids (default: the Atari-5)")
    args = p.parse_args(argv)
    games_to_run = [g for g in args.games.split(",") if g]
    if args.tiny:
        args.steps, args.seeds, args.window, args.preset = min(args.steps, 2048), min(args.seeds, 2), 1, "pong"
    t0 = time.perf_counter()
    out = args.out or Path("benchmarks/results") / f"atari5-{args.protocol}-{time.strftime('%Y-%m-%d')}"
    out.mkdir(parents=True, exist_ok=True)
    games = []
    for i, game in enumerate(games_to_run):
        left = args.deadline - (time.perf_counter() - t0) - 30.0  # 30 s: the compare at the end
        budget = left / (len(games_to_run) - i)
        print(f"[{time.perf_counter() - t0:7.1f} s] {game}: {budget:.0f} s, {args.steps:,} env steps per agent",
              flush=True)
        games.append(run_game(game, out / "runs" / game.removesuffix("-v5"), args, budget))
        g = games[-1]
        print(f"[{time.perf_counter() - t0:7.1f} s] {game}: {g['env_steps_reached']:,} env steps per agent"
              + (" (partial: cut by the deadline)" if g["partial"] else ""), flush=True)
    from benchmarks.common import cpu_model
    from jaxrl.cli import main as jaxrl
    record = {"benchmark": "Atari-5 (Aitchison et al. 2023)", "protocol": args.protocol, "seeds": args.seeds,
              "games": games, "partial": any(g["partial"] for g in games),
              "command": "python -m benchmarks.atari5 " + shlex.join(sys.argv[1:] if argv is None else argv),
              "machine": {"cpu": cpu_model(), "cores": os.cpu_count()}, "seconds": time.perf_counter() - t0}
    (out / "atari5.json").write_text(json.dumps(record, indent=2) + "\n")
    runs = [str(out / "runs" / g.removesuffix("-v5")) for g in games_to_run]
    code = jaxrl(["compare", "--group", f"{args.preset}={','.join(runs)}", "--window", str(args.window),
                  "--out", str(out)])
    partial = [g["game"] for g in games if g["partial"]]
    if partial:
        print(f"PARTIAL: {', '.join(partial)} stopped before {args.steps:,} env steps per agent (see atari5.json); "
              "their scores are those of the games they finished, not an estimate of the full budget", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())


def bench_atari5(seconds: float, seeds: int = 2, steps: int = 300_000, tiny: bool = False,
                 out: Path = Path(".gpu/atari5")) -> list:
    """The GPU protocol's `atari5` part: this benchmark for `seconds`, as one Measurement (IQM HNS over seeds x
    games, its CI, each game's env steps and whether the deadline cut it, in `extra`). `partial` is said in params."""
    from benchmarks.common import Measurement
    if out.exists():
        import shutil
        shutil.rmtree(out)
    argv = ["--seeds", str(seeds), "--steps", str(steps), "--deadline", str(seconds), "--out", str(out)]
    code = main(argv + (["--tiny"] if tiny else []))
    record = json.loads((out / "atari5.json").read_text())
    result = json.loads((out / "compare.json").read_text()) if (out / "compare.json").is_file() else {}
    group = (result.get("groups") or [{}])[0]
    iqm = (group.get("final_hns") or {}).get("iqm") or {}
    return [Measurement("atari5", "jaxrl", {"protocol": record["protocol"], "seeds": record["seeds"],
                                            "env_steps_budget": steps, "partial": record["partial"],
                                            "compare_exit_status": code},
                        float(iqm.get("value", float("nan"))), "IQM human-normalized score", 1, 0.0,
                        {"ci": iqm.get("ci"), "games": record["games"], "per_game": group.get("per_game"),
                         "note": "partial runs are scored on the games they finished, never extrapolated"})]
