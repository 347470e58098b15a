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


class _Parser(argparse.ArgumentParser):
    """argparse with jaxrl's error contract: one line on stderr, exit status 2."""

    def error(self, message):
        _usage_error(message)


def _out_dir(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: name a directory")
    return Path(text)


def _train_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jaxrl train", add_help=False, allow_abbrev=False)
    p.add_argument("--preset", default="cartpole-course")
    p.add_argument("--out-dir", type=_out_dir, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--resume", type=Path, default=None)
    p.add_argument("--distributed", action="store_true")
    p.add_argument("--cpu-devices", type=int, default=None)
    p.add_argument("-h", "--help", action="store_true")
    return p


TRAIN_HELP = f"""\
jaxrl train: train DQN agents (a vmapped seed sweep in one jitted program).

  --preset NAME      hyperparameter preset: {', '.join(sorted(PRESETS))} (default: cartpole-course)
  --out-dir DIR      run directory (default: runs/<preset>-<timestamp>/)
  --window N         episodes averaged for the per-seed final return (default: 10)
  --grid NAME=V1,V2 ...  hyperparameter grid over traced fields (learning_rate, gamma, egreedy,
                     egreedy_final, egreedy_decay, target_update_frequency): points x seeds in one program
  --cpu-devices N    gymnax sweeps on a CPU: split the host into N XLA devices and shard the sweep over them
                     (default: one per core, at most one per agent; 1 = off; --resume: the count the run
                     started with, which its numbers depend on). XLA runs one device's program mostly on one
                     core, so on 2 cores this about doubles a sweep's steps/s.
  --distributed      call jax.distributed.initialize() first (multi-host; coordinator from the cluster env)
  --resume DIR       continue a stopped run (Ctrl-C, SIGTERM, a kill after a periodic checkpoint) from
                     DIR/checkpoint.msgpack with DIR's own config (no other config flags allowed)
  --loop host|xla    envpool runs: envpool stepped from Python between jitted calls, or env.xla() inside
                     jitted lax.scan chunks (default for presets pong, pong-fast: xla)
  --overlap          envpool runs: step the envs while the updates run (acting one update old; off by
                     default, on in preset pong-fast: --no-overlap turns it off)
  --no-progress      no progress bar (off a terminal: a plain line every 30 s)
  --FIELD VALUE      any DQNConfig field, hyphenated, overriding the preset (listed below)
"""


def parse_train_args(argv):
    """-> (config, options) or raises SystemExit(2) with a one-line message."""
    opts, rest = _train_parser().parse_known_args(argv)
    if opts.help:
        print(TRAIN_HELP)
    if opts.window <= 0:
        _usage_error(f"--window={opts.window}: expected an integer > 0")
    if opts.resume is not None:
        return _resume_config(opts, rest, argv), opts
    try:
        preset = get_preset(opts.preset)
    except ValueError as e:
        _usage_error(str(e))
    config = _config_from_flags(DQNConfig, preset, rest, "jaxrl train", "DQNConfig fields", opts.help)
    try:
        config.validate()
    except ValueError as e:
        _usage_error(str(e))
    return config, opts


def refuse_repeated_flags(args, aliases=None) -> None:
    """A flag given twice (`--grid a=1 --grid b=2`, or `--alpha` and its long name `--alphas`) is refused in one
    line: the parser would keep only the last and drop the first without a word. `--x` and `--no-x` count as one."""
    aliases = aliases or {}
    seen = {}
    for arg in args:
        if not arg.startswith("--"):
            continue
        flag = arg.partition("=")[0]
        name = aliases.get(flag, flag)
        name = "--" + name[5:] if name.startswith("--no-") else name
        if name in seen:
            also = f" (as {seen[name]} and {flag})" if seen[name] != flag else ""
            _usage_error(f"{name} given twice{also}: give it once, with every value after it")
        seen[name] = flag


def _config_from_flags(cls, default, args, prog: str, description: str, show_help: bool):
    """A config dataclass from `--field-name value` flags (tyro), every field a flag; a bad flag or value is one
    line (exit 2), `--help` lists the fields (exit 0)."""
    import contextlib
    import io

    import dataclasses

    import tyro
    switches = {"--" + f.name.replace("_", "-") for f in dataclasses.fields(cls) if f.type == "bool"}
    for flag, value in zip(args, args[1:]):
        if flag in switches and not value.startswith("-"):
            _usage_error(f"{flag} is an on/off flag: write {flag} or --no-{flag[2:]} (without {value!r})")
    refuse_repeated_flags(args)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured) if not show_help else contextlib.nullcontext():
            return tyro.cli(cls, default=default, args=args + (["--help"] if show_help else []), prog=prog,
                            description=description)
    except SystemExit as e:
        if e.code:
            _usage_error(_one_line(captured.getvalue()))
        raise SystemExit(0) from None


def _resume_config(opts, rest, argv):
    """`--resume DIR`: the run's own config; any other config flag is a conflict."""
    if rest or opts.out_dir is not None or any(a.startswith("--preset") for a in argv):
        _usage_error("--resume DIR continues a run with DIR's own config: drop "
                     + (" ".join(rest) if rest else "--out-dir/--preset"))
    from jaxrl.host import rundir
    try:
        meta, config = rundir.read_dqn_config(opts.resume)
    except (FileNotFoundError, ValueError) as e:
        _usage_error(f"--resume: {e}")
    opts.preset = meta.get("preset")
    return config


def _one_line(box: str) -> str:
    """tyro's boxed error message (unicode or ASCII box) -> its first line of content after the title."""
    lines = [line.strip(" \t│╭╮╰╯─|+-=") for line in box.splitlines()]
    lines = [line for line in lines if line and not line.startswith("For full helptext")]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else "invalid command line")


def _usage_error(message: str):
    print(f"jaxrl: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def cmd_train(argv) -> int:
    config, opts = parse_train_args(argv)
    from jaxrl.host import train_run
    try:
        return train_run.train(config, opts)
    except train_run.UsageError as e:
        _usage_error(str(e))


TABULAR_HELP = """\
jaxrl tabular: tabular Q-learning on FrozenLake, every seed and (alpha, gamma) grid point in one jitted program.

  --env FrozenLake-v1   the environment (only FrozenLake-v1)
  --out-dir DIR         run directory (default: runs/frozenlake-<timestamp>/)
  --map 4x4|8x8, --alpha A [A ...], --gamma G [G ...]: short names of --map-name, --alphas, --gammas
  --FIELD VALUE         any TabularConfig field, hyphenated (listed below)
"""
TABULAR_ALIASES = {"--map": "--map-name", "--alpha": "--alphas", "--gamma": "--gammas"}


def cmd_tabular(argv) -> int:
    """Every `TabularConfig` field is a flag (tyro), as for `jaxrl train`; `--env` and `--out-dir` besides."""
    pre = _Parser(prog="jaxrl tabular", add_help=False, allow_abbrev=False)
    pre.add_argument("--env", default="FrozenLake-v1")
    pre.add_argument("--out-dir", type=_out_dir, default=None)
    pre.add_argument("-h", "--help", action="store_true")
    opts, rest = pre.parse_known_args(argv)
    if opts.help:
        print(TABULAR_HELP)
    if opts.env != "FrozenLake-v1":
        _usage_error(f"--env {opts.env!r}: only FrozenLake-v1 is supported")
    refuse_repeated_flags(rest, TABULAR_ALIASES)
    rest = [TABULAR_ALIASES.get(a.partition("=")[0], a.partition("=")[0]) + "".join(a.partition("=")[1:])
            if a.startswith("--") else a for a in rest]
    from jaxrl.config import TabularConfig
    config = _config_from_flags(TabularConfig, TabularConfig(), rest, "jaxrl tabular", "TabularConfig fields",
                                opts.help)
    try:
        config.validate()
    except ValueError as e:
        _usage_error(str(e))
    from rich.console import Console

    from jaxrl.host import rundir
    from jaxrl.host.tabular_run import run_tabular_command
    console = Console(stderr=True)
    try:
        out_dir = rundir.claim_run_dir(opts.out_dir, "frozenlake", {"kind": "tabular", "config": config.to_dict(),
                                                                     "versions": rundir.versions()})
    except rundir.RunDirTaken as e:
        _usage_error(str(e))
    run_tabular_command(config, out_dir, console)
    return 0


def cmd_doctor(argv) -> int:
    from jaxrl.host import doctor
    p = _Parser(prog="jaxrl doctor", description="What jaxrl will run on here: versions, backend, devices, GPUs, "
                "envpool, the convolution kernel, and an env.xla() probe in a child process.")
    p.add_argument("--no-probe", action="store_true", help="skip the env.xla() probe")
    p.add_argument("--probe-timeout", type=float, default=doctor.PROBE_TIMEOUT, help="seconds (default: %(default)s)")
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON to this file")
    return _report_command("doctor", p.parse_args(argv))


def cmd_evaluate(argv) -> int:
    p = _Parser(prog="jaxrl evaluate", description="Play a gymnax run's saved greedy policies in Gymnasium's own env "
                "(CartPole-v1, Acrobot-v1, MountainCar-v0); writes RUN/evaluate-<which>.json.")
    p.add_argument("run", type=Path)
    p.add_argument("--episodes", type=int, default=10, help="episodes per agent (default: %(default)s)")
    p.add_argument("--which", choices=("final", "best"), default="final",
                   help="final parameters, or the best-evaluated ones (runs with --eval-frequency)")
    p.add_argument("--seed", type=int, default=0, help="root seed of the Gymnasium resets (default: %(default)s)")
    p.add_argument("--epsilon", type=float, default=0.0, help="random-action probability (default: %(default)s)")
    return _report_command("evaluate", p.parse_args(argv))


def cmd_compare(argv) -> int:
    p = _Parser(prog="jaxrl compare", description="Compare runs (or the grid points of one run) on the same env: "
                "IQM, mean, median, optimality gap with 95%% stratified-bootstrap CIs, probability of improvement, "
                "compare.png and compare.json.")
    p.add_argument("runs", type=Path, nargs="*", help="one group per run (the same env)")
    p.add_argument("--group", action="append", default=[], metavar="NAME=RUN,RUN,...",
                   help="a group of runs, one per Atari game, compared in human-normalized score (repeatable)")
    p.add_argument("--out", type=Path, default=None, help="where compare.json/png go (default: the first run)")
    p.add_argument("--window", type=int, default=10, help="episodes averaged per seed score (default: %(default)s)")
    return _report_command("compare", p.parse_args(argv))


def _report_command(name: str, args) -> int:
    """`jaxrl.host.reports`' command `name`: a `UsageError` is one line, exit 2."""
    from jaxrl.host import reports
    from jaxrl.host.train_run import UsageError
    try:
        return getattr(reports, name)(args)
    except UsageError as e:
        _usage_error(str(e))


def cmd_launch(argv) -> int:
    """`jaxrl launch --processes N [--devices-per-process D] -- train ...`"""
    if "--" not in argv:
        _usage_error("usage: jaxrl launch --processes N [--devices-per-process D] -- train [train options]")
    i = argv.index("--")
    p = _Parser(prog="jaxrl launch", description="Run `jaxrl train ... --distributed` as N processes on this host "
                "(a free coordinator port on 127.0.0.1; process 0's output streamed; the worst exit status).")
    p.add_argument("--processes", type=int, required=True)
    p.add_argument("--devices-per-process", type=int, default=1, help="forced CPU devices each (default: 1)")
    args, rest = p.parse_args(argv[:i]), argv[i + 1:]
    if args.processes < 1 or args.devices_per_process < 1 or rest[:1] != ["train"]:
        _usage_error("usage: jaxrl launch --processes N>=1 [--devices-per-process D>=1] -- train [train options]")
    from jaxrl.host.launch import launch
    return launch(args.processes, args.devices_per_process, rest)


COMMANDS = {"train": cmd_train, "tabular": cmd_tabular, "evaluate": cmd_evaluate, "compare": cmd_compare,
            "launch": cmd_launch, "doctor": cmd_doctor}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--version":
        from jaxrl import __version__
        print(f"jaxrl {__version__}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: jaxrl {train,tabular,evaluate,compare,launch,doctor} [options]   (jaxrl COMMAND --help; "
              "jaxrl --version)")
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
