"""`jaxrl evaluate`, `compare` and `doctor` after parsing: check the outputs' paths, compute, print, then write.

Each command's results are printed before anything is written, so a write that fails (a read-only run
directory, a full disk) loses nothing: it is one line, exit 1. Bad input is a `UsageError` (one line, exit 2,
before the work). SIGINT/SIGTERM stop `evaluate` and `compare` at once with one line, exit 130
(`jaxrl.host.driver.stop_now`); every output is written to a temporary file and renamed, so none is half-written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jaxrl.host.exit_codes import EXIT_IO
from jaxrl.host.train_run import UsageError


def evaluate(args) -> int:
    checks = ((args.episodes <= 0, f"--episodes={args.episodes}: expected an integer > 0"),
              (not 0 <= args.epsilon <= 1, f"--epsilon={args.epsilon}: expected a number in [0, 1]"),
              (args.seed < 0, f"--seed={args.seed}: expected an integer >= 0"))
    bad = [message for failed, message in checks if failed]
    if bad:
        raise UsageError("; ".join(bad))
    from jaxrl.host.gym_eval import evaluate_run, print_report, report_path
    from jaxrl.host.rundir import write_json
    with stop_at_once("jaxrl evaluate"):
        try:
            report = evaluate_run(args.run, episodes=args.episodes, which=args.which, seed=args.seed,
                                  epsilon=args.epsilon, say=lambda line: print(line, file=sys.stderr, flush=True))
        except (ValueError, FileNotFoundError) as e:
            raise UsageError(str(e)) from None
        print_report(report)
        return write_or_say(lambda: write_json(report_path(report), report), report_path(report))


def compare(args) -> int:
    if args.window <= 0:
        raise UsageError(f"--window={args.window}: expected an integer > 0")
    if args.group:
        return compare_games(args)
    if not args.runs:
        raise UsageError("jaxrl compare RUN [RUN ...], or --group NAME=RUN,RUN,... (runs over several Atari games)")
    from jaxrl.host import rundir
    from jaxrl.host.compare import COMPARE_JSON, COMPARE_PNG, analyse, print_compare, write_compare
    out = args.out or args.runs[0]
    try:
        rundir.check_dir_path(out, "--out")
    except ValueError as e:
        raise UsageError(str(e)) from None
    with stop_at_once("jaxrl compare"):
        try:
            result, groups, finals = analyse(args.runs, window=args.window)
        except (ValueError, FileNotFoundError) as e:
            raise UsageError(str(e)) from None
        print_compare(result)
        code = write_or_say(lambda: write_compare(out, result, groups, finals, args.window), out / COMPARE_JSON)
        if not code:
            print(f"wrote {out / COMPARE_JSON} and {out / COMPARE_PNG}")
        return code


def compare_games(args) -> int:
    """`compare --group ...`: groups of runs over several games, in human-normalized score (`multigame`)."""
    from jaxrl.host import rundir
    from jaxrl.host.compare import COMPARE_JSON, COMPARE_PNG
    from jaxrl.host.multigame import analyse_games, parse_groups, print_games, write_games
    if args.runs:
        raise UsageError(f"give every run inside a --group (not also as {args.runs[0]})")
    try:
        groups = parse_groups(args.group)
        out = args.out or next(iter(groups.values()))[0]
        rundir.check_dir_path(out, "--out")
    except ValueError as e:
        raise UsageError(str(e)) from None
    with stop_at_once("jaxrl compare"):
        try:
            result, _ = analyse_games(groups, window=args.window)
        except (ValueError, FileNotFoundError) as e:
            raise UsageError(str(e)) from None
        print_games(result)
        code = write_or_say(lambda: write_games(out, result), out / COMPARE_JSON)
        if not code:
            print(f"wrote {out / COMPARE_JSON} and {out / COMPARE_PNG}")
        return code


def doctor(args) -> int:
    from jaxrl.host import doctor as checks
    if not args.probe_timeout > 0:
        raise UsageError(f"--probe-timeout={args.probe_timeout}: expected seconds > 0")
    if args.json is not None:
        check_output_file(args.json, "--json")
    info = checks.report(probe=not args.no_probe, probe_timeout=args.probe_timeout)
    print(checks.format_report(info), flush=True)
    if args.json:
        code = write_or_say(lambda: args.json.write_text(json.dumps(info, indent=2) + "\n"), args.json)
        if code:
            return code
    if info["cuda_jax_missing"]:
        raise UsageError(info["cuda_jax_missing"])
    return 0


def stop_at_once(command: str):
    """A `StopFlag` whose first signal stops the process at once: there is no chunk to finish."""
    from jaxrl.host.driver import StopFlag
    flag = StopFlag()
    flag.requested = True
    flag.at_once = lambda: f"{command}: interrupted; nothing (more) written"
    return flag


def check_output_file(path: Path, flag: str) -> None:
    """A file to write: its folder must exist and it must not be a directory (`UsageError`, before the work)."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory: name a file")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: the folder {path.parent} does not exist")


def write_or_say(write, where) -> int:
    """Run `write()`; an OSError is one line, exit 1 (the results were printed above)."""
    try:
        write()
    except OSError as e:
        print(f"jaxrl: error: could not write {where}: {e.strerror or e} (the results are printed above)",
              file=sys.stderr)
        return EXIT_IO
    return 0
