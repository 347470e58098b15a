"""`jaxrl train` after parsing: pick the driver (gymnax or envpool), claim the run directory, run, print.

A problem with the command line found here (a bad checkpoint, a directory that already holds a run, an env the
network cannot take) is a `UsageError`: the CLI prints it as one line and exits with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from jaxrl.config import DQNConfig
from jaxrl.envs.envpool_env import is_envpool_env

from jaxrl.host.exit_codes import EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_IO

HEARTBEAT_SECONDS = 30  # a lost process is noticed by the others within about this long (--distributed)


class UsageError(Exception):
    """A command-line problem: printed as one line `jaxrl: error: ...`, exit status 2."""


def _usage_error(message: str):
    raise UsageError(message)


def train(config: DQNConfig, opts) -> int:
    """Run `config` as `opts` (the CLI's non-config options) ask; -> exit status. SIGINT/SIGTERM are caught
    from here on (`jaxrl.host.driver.StopFlag`): a signal while compiling stops the run before its first chunk,
    with a checkpoint."""
    from jaxrl.host.devices import keep_freed_memory
    from jaxrl.host.driver import StopFlag
    from jaxrl.host import rundir
    keep_freed_memory()
    try:
        with StopFlag() as stop:
            return _train(config, opts, stop)
    except OSError as e:  # a full disk, a directory made read-only mid-run, a file size limit; a failed download
        print(f"jaxrl: error: {describe_os_error(e)}", file=sys.stderr)
        return EXIT_IO
    finally:
        rundir.release_locks()


def describe_os_error(e: OSError) -> str:
    """An OSError that ended a run, in one line: a download that failed, or a write to the run's files."""
    import urllib.error
    if isinstance(e, (urllib.error.URLError, ConnectionError, TimeoutError)):
        return (f"a download failed ({download_error(e)}); jaxrl itself downloads nothing: an env or library asked "
                "for it")
    where = f" {e.filename}" if e.filename else ""
    return (f"writing the run's files failed{where}: {e.strerror or e}; the run stopped (`jaxrl train --resume DIR` "
            "continues it from its last checkpoint, if it has one)")


def _train(config: DQNConfig, opts, stop) -> int:
    if opts.distributed:
        import jax
        if opts.out_dir is None and opts.resume is None:
            _usage_error("--distributed needs --out-dir (or --resume DIR): every process must name the same run "
                         "directory")
        if is_envpool_env(config.env_id):
            _usage_error("--distributed runs gymnax sweeps; an envpool (Atari) run uses one process (its devices "
                         "share the pool)")
        _cpu_devices(config, opts.cpu_devices, opts.resume)  # before JAX's backends start (initialize does not)
        try:  # SLURM / Open MPI / TPU env discovery, or JAX_COORDINATOR_ADDRESS etc.
            jax.distributed.initialize(**cluster_from_env(), heartbeat_timeout_seconds=HEARTBEAT_SECONDS)
        except (ValueError, RuntimeError) as e:
            _usage_error(f"--distributed: no cluster found ({str(e).splitlines()[0]}): set JAX_COORDINATOR_ADDRESS "
                         "(host:port of process 0), JAX_NUM_PROCESSES and JAX_PROCESS_ID, or run under SLURM/Open MPI")
        stop.reinstall()  # initialize installed JAX's preemption notifier on SIGTERM in place of the stop flag
    if is_envpool_env(config.env_id):
        return train_envpool(config, opts, stop)
    if config.overlap:
        _usage_error("--overlap is for envpool (Atari) runs: a gymnax run steps its envs and updates inside one "
                     "compiled program")
    if not opts.distributed:  # (a distributed run set its devices above)
        _cpu_devices(config, opts.cpu_devices, opts.resume)  # before JAX's backends start
    from jaxrl.envs import make_vector_env
    from jaxrl.agents.networks import make_network
    try:
        env = make_vector_env(config.env_id, 1)
        make_network(config, env.num_actions, env.obs_shape)  # a network that cannot take this env's observations
    except ValueError as e:
        _usage_error(str(e))
    except OSError as e:  # gymnax's MNIST bandit downloads its data when made
        _usage_error(f"env {config.env_id}: making it needs a download, which failed ({download_error(e)})")
    from jaxrl.host.preflight import check_traceable
    try:
        check_traceable(config)
    except ValueError as e:
        _usage_error(str(e))
    from rich.console import Console

    from jaxrl.host import rundir
    from jaxrl.host.sweep import run_gymnax, summarize

    import jax
    writer = jax.process_index() == 0  # in a multi-process run only process 0 writes and prints
    console = Console(stderr=True, quiet=not writer)
    env_info = {"num_actions": env.num_actions, "obs_shape": list(env.obs_shape), "obs_dtype": str(env.obs_dtype)}
    out_dir = _run_dir(opts, rundir, config, env_info) if writer else (opts.resume or opts.out_dir)
    grid = f" x {len(config.grid_points())} grid points" if config.grid else ""
    console.print(f"[bold]jaxrl train[/] preset={opts.preset} env={config.env_id} seeds={config.num_seeds}{grid} "
                  f"steps/seed={config.total_steps:,} devices={jax.device_count()} -> {out_dir}")
    # Chunks of log_frequency env steps: metrics appended per chunk, SIGINT/SIGTERM checkpoint, --resume.
    result, code = stoppable(lambda stop: run_gymnax(config, out_dir, resume=opts.resume is not None, stop=stop,
                                                     progress=writer and not opts.no_progress, console=console),
                             console, out_dir, stop)
    if code or not writer:
        return code or 0
    summary = summarize(result, window=opts.window)
    rundir.write_run_dir(out_dir, result, summary, preset=opts.preset, window=opts.window, env_info=env_info)
    from jaxrl.host.summary import print_summary
    print_summary(summary, console)
    short = [s["seed_index"] for s in summary["per_seed"] if s["episodes"] < opts.window]
    if short:
        console.print(f"note: {len(short)} seed(s) finished fewer than --window={opts.window} episodes: their final "
                      "mean covers all their episodes, and the learning curve has no rolling mean for them")
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


def cluster_from_env() -> dict:
    """`jax.distributed.initialize` arguments from JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID
    (those set; none set: JAX's own detection, e.g. SLURM or Open MPI)."""
    import os
    names = {"coordinator_address": ("JAX_COORDINATOR_ADDRESS", str), "num_processes": ("JAX_NUM_PROCESSES", int),
             "process_id": ("JAX_PROCESS_ID", int)}
    out = {}
    for arg, (var, cast) in names.items():
        if os.environ.get(var):
            try:
                out[arg] = cast(os.environ[var])
            except ValueError:
                _usage_error(f"{var}={os.environ[var]!r}: expected {'an integer' if cast is int else 'host:port'}")
    return out


def stoppable(run, console, out_dir, stop):
    """`run(stop)` the driver under `stop` (installed by `train`) -> (its result, None), or (None, exit status):
    SIGINT/SIGTERM 130 (checkpoint written; a second signal: stopped at once), every seed diverged 3; a bad
    checkpoint is a usage error (2)."""
    from jaxrl.host.checkpoint import CheckpointError, Diverged, Interrupted
    stop.at_once = lambda: stopped_at_once(out_dir)
    try:
        return run(stop), None
    except CheckpointError as e:
        _usage_error(str(e))
    except Interrupted as e:
        console.print(str(e))
        return None, EXIT_INTERRUPTED
    except Diverged as e:
        print(f"jaxrl: error: {e}", file=sys.stderr)
        return None, EXIT_DIVERGED


def download_error(e: OSError) -> str:
    """A failed download's reason in a few words (`urllib`'s URLError or a socket error)."""
    reason = getattr(e, "reason", None) or e.strerror or e
    return f"{type(e).__name__}: {reason}"


def stopped_at_once(out_dir) -> str:
    """A second signal's tidy-up (`jaxrl.host.driver.stop_now`): release a run directory that has no checkpoint
    yet; -> the line to print."""
    from jaxrl.host import rundir
    from jaxrl.host.checkpoint import CHECKPOINT_FILE
    if (Path(out_dir) / CHECKPOINT_FILE).is_file():
        return (f"stopped at once; {out_dir} is partial: resume from its last checkpoint with "
                f"`jaxrl train --resume {rundir.shell_quote(out_dir)}`")
    rundir.release_run_dir(out_dir)
    return (f"stopped at once, before the first checkpoint; {out_dir} was released: run the same command again "
            "to start over")


def _cpu_devices(config: DQNConfig, requested: int | None, resume=None) -> None:
    """Force `n` host devices (before JAX starts its backends) so that a sweep is sharded over the cores. No
    effect on a GPU machine (its devices are used) or when XLA_FLAGS already sets a count. `requested` None:
    one per core, or for a `resume` run directory the count it recorded."""
    import os
    if requested is None:
        from jaxrl.host.preflight import resume_devices
        requested = (resume_devices(resume) if resume is not None else None) or 0
    if requested < 0:
        _usage_error(f"--cpu-devices={requested}: expected an integer >= 0 (0 = one per core)")
    from jaxrl.host.devices import force_host_devices
    force_host_devices(min(requested or os.cpu_count() or 1, config.sweep_size))


def _run_dir(opts, rundir, config: DQNConfig, env_info: dict) -> Path:
    """`--resume DIR`, or a new run directory claimed with its `config.json` (never one that holds a run)."""
    if opts.resume is not None:
        from jaxrl import __version__
        from jaxrl.host.checkpoint import CHECKPOINT_FILE, CheckpointError, verify_checkpoint
        from jaxrl.host.preflight import check_devices
        meta = rundir.read_config(opts.resume)
        config = DQNConfig.from_dict(meta["config"])
        try:  # refuse a bad checkpoint, a finished run or damaged logs before anything is compiled or written
            saved = verify_checkpoint(opts.resume / CHECKPOINT_FILE, {"jaxrl": __version__, "config": config.to_dict()})
            if saved.get("env_steps", 0) >= config.total_steps:
                _usage_error(f"{opts.resume} is finished ({config.total_steps:,} env steps per agent, all trained): "
                             "nothing to resume")
            rundir.check_logs(opts.resume)
            check_devices(meta)
            rundir.hold_run_dir(opts.resume)
        except (CheckpointError, ValueError) as e:
            _usage_error(str(e))
        return opts.resume
    from jaxrl.host.preflight import check_room
    try:
        if opts.out_dir is not None:
            rundir.check_dir_path(opts.out_dir, "--out-dir")
        check_room(config, opts.out_dir or Path("runs"))
        path = rundir.claim_run_dir(opts.out_dir, opts.preset or "run",
                                    rundir.config_content(config, preset=opts.preset, env_info=env_info))
        rundir.hold_run_dir(path)
        return path
    except ValueError as e:
        _usage_error(str(e))


def train_envpool(config: DQNConfig, opts, stop) -> int:
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

    from jaxrl.envs.envpool_env import FRAMES_PER_STEP, env_spec
    from jaxrl.host import rundir
    from jaxrl.host.atari_run import env_info, run_atari

    console = Console(stderr=True)
    try:
        num_actions, obs_shape = env_spec(config.env_id, config.atari_protocol)
    except ValueError as e:  # a missing ROM
        _usage_error(str(e))
    out_dir = _run_dir(opts, rundir, config, env_info(num_actions, obs_shape, config.atari_protocol))
    if jax.default_backend() == "cpu":
        console.print("[yellow]warning:[/] no GPU: JAX runs on the CPU. Solving Pong takes ~1-2M env steps, "
                      "hours to days here; on one GPU it takes minutes. Running anyway.")
    console.print(f"[bold]jaxrl train[/] {config.env_id} loop={config.loop}{' (overlap)' * config.overlap} "
                  f"seeds={config.num_seeds} envs/seed={config.num_envs} steps/seed={config.total_steps:,} "
                  f"({config.total_steps * FRAMES_PER_STEP:,} frames) -> {out_dir}")
    summary, code = stoppable(lambda stop: run_atari(config, out_dir, resume=opts.resume is not None, stop=stop,
                                                      progress=not opts.no_progress, console=console), console,
                              out_dir, stop)
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
