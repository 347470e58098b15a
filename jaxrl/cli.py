"""Command line: `jaxrl train --preset cartpole --num-seeds 16 [--out-dir DIR] [--field-name value ...]`.

Every `DQNConfig` field is a hyphenated flag (`--learning-rate 3e-4`, `--no-double-dqn`,
`--hidden-sizes 128 128`) that overrides the preset. Errors in the command line or the config print one
line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jaxrl.config import PRESETS, DQNConfig, get_preset

EXIT_USAGE = 2


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jaxrl train", add_help=False)
    p.add_argument("--preset", default="cartpole")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--window", type=int, default=10)
    p.add_argument("-h", "--help", action="store_true")
    return p


TRAIN_HELP = f"""\
jaxrl train: train DQN agents (a vmapped seed sweep in one jitted program).

  --preset NAME      hyperparameter preset: {', '.join(sorted(PRESETS))} (default: cartpole)
  --out-dir DIR      run directory (default: runs/<preset>-<timestamp>/)
  --window N         episodes averaged for the per-seed final return (default: 10)
  --no-progress      no progress bar
  --FIELD VALUE      any DQNConfig field, hyphenated, overriding the preset (listed below)
"""


def parse_train_args(argv):
    """-> (config, options) or raises SystemExit(2) with a one-line message."""
    opts, rest = _train_parser().parse_known_args(argv)
    if opts.help:
        print(TRAIN_HELP)
    try:
        preset = get_preset(opts.preset)
    except ValueError as e:
        _usage_error(str(e))
    import tyro
    try:
        config = tyro.cli(DQNConfig, default=preset, args=rest + (["--help"] if opts.help else []),
                          prog="jaxrl train", description="DQNConfig fields")
    except SystemExit as e:
        raise SystemExit(EXIT_USAGE if e.code else 0) from None
    try:
        config.validate()
    except ValueError as e:
        _usage_error(str(e))
    if opts.window <= 0:
        _usage_error(f"--window={opts.window}: expected an integer > 0")
    return config, opts


def _usage_error(message: str):
    print(f"jaxrl: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def cmd_train(argv) -> int:
    config, opts = parse_train_args(argv)
    from jaxrl.envs import is_gymnax_env
    if not is_gymnax_env(config.env_id):
        _usage_error(f"env_id={config.env_id!r}: this version trains gymnax environments only "
                     "(the envpool Atari loops are not part of it yet)")
    from rich.console import Console

    from jaxrl import rundir
    from jaxrl.envs import make_vector_env
    from jaxrl.sweep import run_sweep, summarize

    console = Console(stderr=True)
    out_dir = opts.out_dir or rundir.default_run_dir(opts.preset)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _usage_error(f"cannot create --out-dir {out_dir}: {e.strerror}")
    console.print(f"[bold]jaxrl train[/] preset={opts.preset} env={config.env_id} seeds={config.num_seeds} "
                  f"steps/seed={config.total_steps:,} -> {out_dir}")
    result = run_sweep(config, progress=not opts.no_progress, console=console)
    env = make_vector_env(config.env_id, 1)
    threshold = 475.0 if config.env_id == "CartPole-v1" else None
    summary = summarize(result, window=opts.window, solve_threshold=threshold)
    rundir.write_run_dir(out_dir, result, summary, preset=opts.preset, window=opts.window,
                         env_info={"num_actions": env.num_actions, "obs_shape": list(env.obs_shape),
                                   "obs_dtype": str(env.obs_dtype)})
    print_summary(summary, console)
    console.print(f"run directory: {out_dir}")
    return 0


def print_summary(summary: dict, console) -> None:
    from rich.table import Table

    w = summary["window_episodes"]
    table = Table(title="per-seed summary")
    for col in ("seed", "episodes", f"final mean return (last {w})", f"best {w}-episode mean", "final loss"):
        table.add_column(col, justify="right")
    fmt = lambda v: "-" if v is None else f"{v:.1f}" if abs(v) >= 1 else f"{v:.4f}"  # noqa: E731
    for s in summary["per_seed"]:
        table.add_row(str(s["seed_index"]), str(s["episodes"]), fmt(s["final_mean_return"]),
                      fmt(s["best_mean_return"]), fmt(s["final_loss"]))
    console.print(table)
    line = (f"aggregate: {summary['aggregate_steps_per_second']:,.0f} env steps/s over {summary['num_seeds']} "
            f"seeds ({summary['run_seconds']:.1f} s run, {summary['compile_seconds']:.1f} s compile, "
            f"{', '.join(summary['devices'])})")
    if "seeds_reaching_threshold" in summary:
        line += (f"; {summary['seeds_reaching_threshold']}/{summary['num_seeds']} seeds reached a "
                 f"{w}-episode mean >= {summary['solve_threshold']:g}")
    console.print(line)


COMMANDS = {"train": cmd_train}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: jaxrl {train} [options]   (jaxrl train --help for the flags)")
        return 0 if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"jaxrl: error: unknown command {command!r}: choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return COMMANDS[command](rest)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
