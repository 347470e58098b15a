"""Command line: `jaxrl train --preset cartpole --num-seeds 16 [--out-dir DIR] [--field-name value ...]`.

Every `DQNConfig` field is a hyphenated flag (`--learning-rate 3e-4`, `--no-double-dqn`,
`--hidden-sizes 128 128`) that overrides the preset. Errors in the command line or the config print one
line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from jaxrl.config import PRESETS, DQNConfig, get_preset

EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jaxrl train", add_help=False)
    p.add_argument("--preset", default="cartpole")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--resume", type=Path, default=None)
    p.add_argument("--distributed", action="store_true")
    p.add_argument("--cpu-devices", type=int, default=0)
    p.add_argument("-h", "--help", action="store_true")
    return p


TRAIN_HELP = f"""\
jaxrl train: train DQN agents (a vmapped seed sweep in one jitted program).

  --preset NAME      hyperparameter preset: {', '.join(sorted(PRESETS))} (default: cartpole)
  --out-dir DIR      run directory (default: runs/<preset>-<timestamp>/)
  --window N         episodes averaged for the per-seed final return (default: 10)
  --grid NAME=V1,V2 ...  hyperparameter grid over traced fields (learning_rate, gamma, egreedy,
                     egreedy_final, egreedy_decay, target_update_frequency): points x seeds in one program
  --cpu-devices N    gymnax sweeps on a CPU: split the host into N XLA devices and shard the sweep over them
                     (default: one per core, at most one per agent; 1 = off). XLA runs one device's program
                     mostly on one core, so on 2 cores this about doubles a sweep's steps/s.
  --distributed      call jax.distributed.initialize() first (multi-host; coordinator from the cluster env)
  --resume DIR       continue an envpool (Atari) run from DIR/checkpoint.msgpack with DIR's own config
                     (no other config flags allowed)
  --loop host|xla    envpool runs: envpool stepped from Python between jitted calls, or env.xla() inside
                     jitted lax.scan chunks (default for preset pong: xla)
  --no-progress      no progress bar
  --FIELD VALUE      any DQNConfig field, hyphenated, overriding the preset (listed below)
"""


def parse_train_args(argv):
    """-> (config, options) or raises SystemExit(2) with a one-line message."""
    opts, rest = _train_parser().parse_known_args(argv)
    if opts.help:
        print(TRAIN_HELP)
    if opts.resume is not None:
        return _resume_config(opts, rest, argv), opts
    try:
        preset = get_preset(opts.preset)
    except ValueError as e:
        _usage_error(str(e))
    import contextlib
    import io

    import tyro
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured) if not opts.help else contextlib.nullcontext():
            config = tyro.cli(DQNConfig, default=preset, args=rest + (["--help"] if opts.help else []),
                              prog="jaxrl train", description="DQNConfig fields")
    except SystemExit as e:
        if e.code:
            _usage_error(_one_line(captured.getvalue()))
        raise SystemExit(0) from None
    try:
        config.validate()
    except ValueError as e:
        _usage_error(str(e))
    if opts.window <= 0:
        _usage_error(f"--window={opts.window}: expected an integer > 0")
    return config, opts


def _resume_config(opts, rest, argv):
    """`--resume DIR`: the run's own config; any other config flag is a conflict."""
    if rest or opts.out_dir is not None or any(a.startswith("--preset") for a in argv):
        _usage_error("--resume DIR continues a run with DIR's own config: drop "
                     + (" ".join(rest) if rest else "--out-dir/--preset"))
    from jaxrl.host import rundir
    try:
        meta = rundir.read_config(opts.resume)
        config = DQNConfig.from_dict(meta["config"]).validate()
    except (FileNotFoundError, ValueError, KeyError, TypeError) as e:
        _usage_error(f"--resume {opts.resume}: {e}")
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


def _make_out_dir(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _usage_error(f"cannot create --out-dir {out_dir}: {e.strerror}")
    return out_dir


def cmd_train(argv) -> int:
    config, opts = parse_train_args(argv)
    if opts.distributed:
        import jax
        jax.distributed.initialize()  # SLURM / Open MPI / TPU env discovery, or JAX_COORDINATOR_ADDRESS etc.
    if _is_atari(config.env_id):
        return _train_envpool(config, opts)
    _cpu_devices(config, opts.cpu_devices)  # before JAX's backends start
    from jaxrl.envs import make_vector_env
    from jaxrl.agents.networks import make_network
    try:
        env = make_vector_env(config.env_id, 1)
        make_network(config, env.num_actions, env.obs_shape)  # a network that cannot take this env's observations
    except ValueError as e:
        _usage_error(str(e))
    from rich.console import Console

    from jaxrl.host import rundir
    from jaxrl.host.sweep import run_sweep, summarize

    from jaxrl.host.sweep import run_checkpointed

    console = Console(stderr=True)
    out_dir = _run_dir(opts, rundir)
    import jax
    grid = f" x {len(config.grid_points())} grid points" if config.grid else ""
    console.print(f"[bold]jaxrl train[/] preset={opts.preset} env={config.env_id} seeds={config.num_seeds}{grid} "
                  f"steps/seed={config.total_steps:,} devices={jax.device_count()} -> {out_dir}")
    env_info = {"num_actions": env.num_actions, "obs_shape": list(env.obs_shape), "obs_dtype": str(env.obs_dtype)}
    if config.checkpoint_frequency or opts.resume is not None:
        # Chunked from Python: metrics appended per chunk, checkpoints, SIGINT/SIGTERM, --resume.
        if opts.resume is None:
            rundir.write_config(out_dir, config, preset=opts.preset, env_info=env_info)
        result, code = _stoppable(lambda: run_checkpointed(config, out_dir, resume=opts.resume is not None,
                                                           progress=not opts.no_progress, console=console), console)
        if code:
            return code
    else:  # one compiled program for the whole sweep
        result = run_sweep(config, progress=not opts.no_progress, console=console)
    threshold = 475.0 if config.env_id == "CartPole-v1" else None
    summary = summarize(result, window=opts.window, solve_threshold=threshold)
    rundir.write_run_dir(out_dir, result, summary, preset=opts.preset, window=opts.window, env_info=env_info)
    print_summary(summary, console)
    console.print(f"run directory: {out_dir}")
    diverged = [s for s in summary["per_seed"] if s["diverged_at_env_step"] is not None]
    for s in diverged:
        console.print(f"seed {s['seed_index']}: non-finite loss or parameters at env step "
                      f"{s['diverged_at_env_step']:,}; its updates stopped there (saved parameters are the last "
                      "finite ones)")
    if diverged and len(diverged) == config.num_seeds:
        print(f"jaxrl: error: every seed diverged (first at env step "
              f"{min(s['diverged_at_env_step'] for s in diverged):,})", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _stoppable(run, console):
    """Run a chunked driver -> (its result, None), or (None, exit status): SIGINT/SIGTERM 130 (checkpoint
    written), every seed diverged 3; a bad checkpoint is a usage error (2)."""
    from jaxrl.host.checkpoint import CheckpointError, Diverged, Interrupted
    try:
        return run(), None
    except CheckpointError as e:
        _usage_error(str(e))
    except Interrupted as e:
        console.print(str(e))
        return None, EXIT_INTERRUPTED
    except Diverged as e:
        print(f"jaxrl: error: {e}", file=sys.stderr)
        return None, EXIT_DIVERGED


def _is_atari(env_id: str) -> bool:
    """An envpool Atari id? Asked of envpool's registry: importing gymnax would start JAX's backends."""
    import envpool
    return env_id in envpool.list_all_envs() and "Atari" in type(envpool.make_spec(env_id)).__name__


def _cpu_devices(config: DQNConfig, requested: int) -> None:
    """Force `n` host devices (before JAX starts its backends) so that a sweep is sharded over the cores. No
    effect on a GPU machine (its devices are used) or when XLA_FLAGS already sets a count."""
    import os
    if requested < 0:
        _usage_error(f"--cpu-devices={requested}: expected an integer >= 0 (0 = one per core)")
    force_host_devices(min(requested or os.cpu_count() or 1, config.sweep_size))


def force_host_devices(n: int) -> None:
    """Split the host into `n` XLA CPU devices (`jax_num_cpu_devices`) so that a sweep is sharded over the cores.
    Only before JAX starts its backends; no effect for `n <= 1`, once the backends exist (then the device count
    is fixed), or when XLA_FLAGS already sets a count. Child processes inherit nothing."""
    import os
    if n <= 1 or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    import jax
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # the backends already started (e.g. `main` called inside a program that used JAX)
        pass


def _run_dir(opts, rundir) -> Path:
    """`--resume DIR`, or a new run directory (never one that already holds a run)."""
    if opts.resume is not None:
        from jaxrl import __version__
        from jaxrl.host.checkpoint import CHECKPOINT_FILE, CheckpointError, verify_checkpoint
        config = DQNConfig.from_dict(rundir.read_config(opts.resume)["config"])
        try:  # refuse a bad checkpoint before anything is printed, compiled or written
            verify_checkpoint(opts.resume / CHECKPOINT_FILE, {"jaxrl": __version__, "config": config.to_dict()})
        except CheckpointError as e:
            _usage_error(str(e))
        return opts.resume
    out_dir = opts.out_dir or rundir.default_run_dir(opts.preset or "run")
    if (out_dir / rundir.CONFIG_FILE).exists() or (out_dir / "checkpoint.msgpack").exists():
        _usage_error(f"--out-dir {out_dir} already holds a run: pass --resume {out_dir} to continue it, "
                     "or choose a new directory")
    return _make_out_dir(out_dir)


def _train_envpool(config: DQNConfig, opts) -> int:
    """Atari through envpool: chunked host or XLA loop, evaluations, checkpoints, `--resume`."""
    from jaxrl.host import doctor
    problem = doctor.cuda_jax_missing()
    if problem:
        _usage_error(problem)
    import jax
    try:
        config.validate_envpool(jax.device_count())
    except ValueError as e:
        _usage_error(str(e))
    if config.loop == "xla":
        problem = doctor.xla_loop_problem()
        if problem:
            _usage_error(problem)
    from rich.console import Console

    from jaxrl.host import rundir
    from jaxrl.host.atari_run import run_atari

    console = Console(stderr=True)
    out_dir = _run_dir(opts, rundir)
    if jax.default_backend() == "cpu":
        console.print("[yellow]warning:[/] no GPU: JAX runs on the CPU. Solving Pong takes ~1-2M env steps, "
                      "hours to days here; on one GPU it takes minutes. Running anyway.")
    console.print(f"[bold]jaxrl train[/] {config.env_id} loop={config.loop} seeds={config.num_seeds} "
                  f"envs/seed={config.num_envs} steps/seed={config.total_steps:,} "
                  f"({config.total_steps * 4:,} frames) -> {out_dir}")
    summary, code = _stoppable(lambda: run_atari(config, out_dir, resume=opts.resume is not None,
                                                 progress=not opts.no_progress, console=console,
                                                 preset=opts.preset), console)
    if code:
        return code
    for s in summary["per_seed"]:
        solved = s["solved"]
        console.print(f"seed {s['seed_index']}: {s['episodes']} games, last-{summary['window_episodes']} mean "
                      f"{s['final_mean_return'] if s['final_mean_return'] is not None else float('nan'):.1f}, "
                      f"final eval {np.mean(s['final_eval_returns']):.1f}"
                      + (f", solved at {solved['env_steps']:,} steps / {solved['seconds']:.0f} s" if solved else ""))
    console.print(f"{summary['aggregate_steps_per_second']:,.0f} env steps/s (median over chunks); "
                  f"run directory: {out_dir}")
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
    if "per_point" in summary:
        grid = Table(title="per grid point (mean over its seeds)")
        names = [k for k in summary["per_point"][0] if k not in ("point", "seeds", "mean_final_return",
                                                                 "seeds_reaching_threshold")]
        for col in ("point", *names, "seeds", f"final mean return (last {w})", "seeds >= threshold"):
            grid.add_column(col, justify="right")
        for p in summary["per_point"]:
            grid.add_row(str(p["point"]), *[f"{p[k]:g}" for k in names], str(p["seeds"]), fmt(p["mean_final_return"]),
                         str(p.get("seeds_reaching_threshold", "-")))
        console.print(grid)
    line = (f"aggregate: {summary['aggregate_steps_per_second']:,.0f} env steps/s over {summary['num_seeds']} "
            f"seeds ({summary['run_seconds']:.1f} s run, {summary['compile_seconds']:.1f} s compile, "
            f"{', '.join(summary['devices'])})")
    if "seeds_reaching_threshold" in summary:
        line += (f"; {summary['seeds_reaching_threshold']}/{summary['num_seeds']} seeds reached a "
                 f"{w}-episode mean >= {summary['solve_threshold']:g}")
    console.print(line)


class _Parser(argparse.ArgumentParser):
    """argparse with jaxrl's error contract: one line on stderr, exit status 2."""

    def error(self, message):
        _usage_error(message)


def _tabular_parser() -> argparse.ArgumentParser:
    from jaxrl.config import TabularConfig
    d = TabularConfig()
    p = _Parser(prog="jaxrl tabular", description="Tabular Q-learning on FrozenLake, every seed and "
                                "(alpha, gamma) grid point in one jitted program.")
    p.add_argument("--env", default="FrozenLake-v1", help="environment (only FrozenLake-v1)")
    p.add_argument("--map", dest="map_name", default=d.map_name, help="4x4 or 8x8 (default: %(default)s)")
    p.add_argument("--slippery", action="store_true", help="Gymnasium's is_slippery=True")
    p.add_argument("--update", default=d.update, help="deterministic or stochastic (default: %(default)s)")
    p.add_argument("--num-seeds", type=int, default=d.num_seeds)
    p.add_argument("--alpha", type=float, nargs="+", default=list(d.alphas), help="learning rates of the grid")
    p.add_argument("--gamma", type=float, nargs="+", default=list(d.gammas), help="discounts of the grid")
    p.add_argument("--total-steps", type=int, default=d.total_steps, help="env steps per table")
    p.add_argument("--egreedy", type=float, default=d.egreedy)
    p.add_argument("--egreedy-final", type=float, default=d.egreedy_final)
    p.add_argument("--egreedy-decay", type=float, default=d.egreedy_decay, help="env steps")
    p.add_argument("--epsilon-schedule", default=d.epsilon_schedule, help="exponential or linear")
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes,
                   help="Gymnasium rollouts per distinct greedy policy (slippery maps)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out-dir", type=Path, default=None, help="default: runs/frozenlake-<timestamp>/")
    return p


def cmd_tabular(argv) -> int:
    args = _tabular_parser().parse_args(argv)
    if args.env != "FrozenLake-v1":
        _usage_error(f"--env {args.env!r}: only FrozenLake-v1 is supported")
    from jaxrl.config import TabularConfig
    config = TabularConfig(map_name=args.map_name, slippery=args.slippery, update=args.update,
                           alphas=tuple(args.alpha), gammas=tuple(args.gamma), num_seeds=args.num_seeds,
                           seed=args.seed, total_steps=args.total_steps, egreedy=args.egreedy,
                           egreedy_final=args.egreedy_final, egreedy_decay=args.egreedy_decay,
                           epsilon_schedule=args.epsilon_schedule, eval_episodes=args.eval_episodes)
    try:
        config.validate()
    except ValueError as e:
        _usage_error(str(e))
    from rich.console import Console
    from rich.table import Table

    from jaxrl.host import rundir
    from jaxrl.runners import tabular
    console = Console(stderr=True)
    out_dir = _make_out_dir(args.out_dir or rundir.default_run_dir("frozenlake"))
    with console.status(f"training {len(config.grid)} x {config.num_seeds} Q-tables ..."):
        q, metrics, seconds = tabular.run_tabular(config)
    tables = tabular.frozen_lake_tables(config.map_name, config.slippery)
    with console.status("measuring greedy policies in Gymnasium FrozenLake-v1 ..."):
        success = tabular.gymnasium_success_rates(q.argmax(-1).reshape(-1, tables.num_states), config)
    success = success.reshape(len(config.grid), config.num_seeds)
    optimal = tabular.optimal_success_rate(tables, config.max_episode_steps)
    v, pi, _ = tabular.value_iteration(tables, config.gammas[0])
    summary = rundir.write_tabular_run_dir(out_dir, config, q, metrics, seconds, success, optimal, np.asarray(v),
                                           np.asarray(pi), tables.desc)
    table = Table(title=f"FrozenLake {config.map_name} {'slippery' if config.slippery else 'deterministic'}, "
                        f"{config.update} update, {config.num_seeds} seeds")
    for col in ("alpha", "gamma", "success rate (mean)", "min", "max", "optimal"):
        table.add_column(col, justify="right")
    for row in summary["grid"]:
        table.add_row(f"{row['alpha']:g}", f"{row['gamma']:g}", f"{row['success_rate']:.3f}",
                      f"{row['success_rate_min']:.3f}", f"{row['success_rate_max']:.3f}", f"{optimal:.3f}")
    console.print(table)
    console.print(f"{summary['updates_per_second']:,.0f} Q-updates/s ({seconds:.2f} s); run directory: {out_dir}")
    return 0


def cmd_doctor(argv) -> int:
    from jaxrl.host import doctor
    p = _Parser(prog="jaxrl doctor", description="What jaxrl will run on here: versions, backend, devices, GPUs, "
                "envpool, the convolution kernel, and an env.xla() probe in a child process.")
    p.add_argument("--no-probe", action="store_true", help="skip the env.xla() probe")
    p.add_argument("--probe-timeout", type=float, default=doctor.PROBE_TIMEOUT, help="seconds (default: %(default)s)")
    p.add_argument("--json", type=Path, default=None, help="also write the report as JSON to this file")
    args = p.parse_args(argv)
    info = doctor.report(probe=not args.no_probe, probe_timeout=args.probe_timeout)
    print(doctor.format_report(info), flush=True)
    if args.json:
        args.json.write_text(json.dumps(info, indent=2) + "\n")
    if info["cuda_jax_missing"]:
        _usage_error(info["cuda_jax_missing"])
    return 0


COMMANDS = {"train": cmd_train, "tabular": cmd_tabular, "doctor": cmd_doctor}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: jaxrl {train,tabular,doctor} [options]   (jaxrl train --help, jaxrl tabular --help, "
              "jaxrl doctor --help)")
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
