"""Claiming a run directory: one run (or one resume of it) writes into a directory at a time.

    claim_run_dir   a new run's directory, its config.json created exclusively (`O_EXCL`)
    hold_run_dir    an exclusive lock (`flock` of config.json) for the process's lifetime: a new run and a
                    resume both hold it, so two `--resume` of one directory cannot both write
    check_dir_path  paths that cannot be a directory (a file, a dangling link, a name too long), in one line
    check_logs      a resume's logs, read before it trains
    release_run_dir a run stopped before its first checkpoint gives its directory back
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

from jaxrl.host.metrics import METRICS_FILE

CONFIG_FILE = "config.json"
TB_DIR = "tb"


def default_run_dir(preset: str) -> Path:
    return Path("runs") / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"


class RunDirTaken(ValueError):
    """The directory already holds a run (its `config.json` or checkpoint), or cannot be written."""


def claim_run_dir(out_dir: Path | None, name: str, content: dict) -> Path:
    """Create and claim a new run directory before anything is compiled or trained: `config.json` (`content`)
    is created exclusively (`O_EXCL`), so a second run aimed at the same directory is refused, and an unwritable
    directory is found at once. `out_dir=None`: `runs/<name>-<timestamp>`, with `-2`, `-3`, ... when another
    run took that name in the same second. Raises `RunDirTaken` with a one-line reason."""
    base = out_dir if out_dir is not None else default_run_dir(name)
    for k in range(1 if out_dir is not None else 100):
        path = base if k == 0 else base.with_name(f"{base.name}-{k + 1}")
        check_dir_path(path, "--out-dir")
        try:
            path.mkdir(parents=True, exist_ok=True)
            if (path / "checkpoint.msgpack").exists():
                raise FileExistsError
            fd = os.open(path / CONFIG_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if out_dir is None:
                continue
            raise RunDirTaken(f"--out-dir {path} already holds a run: pass --resume {shell_quote(path)} to continue "
                              "it, or choose a new directory") from None
        except OSError as e:
            raise RunDirTaken(f"cannot create --out-dir {path} or write in it: {e.strerror}") from None
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(content, indent=2) + "\n")
        return path
    raise RunDirTaken(f"{base}: 100 runs already started in this second")


def check_dir_path(path: Path, flag: str) -> None:
    """Raise `RunDirTaken` (one line) when `path` cannot be a directory: a plain file, a link to nothing, a name
    too long for the file system, or a file on the way to it."""
    import errno
    path = Path(path)
    try:
        if path.is_symlink() and not path.exists():
            raise RunDirTaken(f"{flag} {path} is a link to {os.readlink(path)}, which does not exist")
        if path.exists() and not path.is_dir():
            raise RunDirTaken(f"{flag} {path} is a file, not a directory")
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise RunDirTaken(f"{flag} {path}: {parent} is a file, not a directory")
    except OSError as e:
        if e.errno != errno.ENAMETOOLONG:
            raise RunDirTaken(f"{flag} {path}: {e.strerror}") from None
        raise RunDirTaken(f"{flag} {str(path)[:60]}...: the path is too long for the file system ({e.strerror})") \
            from None


def shell_quote(path) -> str:
    """A path as one shell word (quoted when it holds spaces or other special characters), for printed commands."""
    import shlex
    return shlex.quote(str(path))


def release_run_dir(out_dir: Path) -> None:
    """Undo `claim_run_dir` for a run stopped before its first checkpoint: remove what the run wrote
    (config.json, metrics.csv, tb/) and the directory itself if that leaves it empty."""
    import shutil
    out = Path(out_dir)
    for name in (CONFIG_FILE, METRICS_FILE):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / TB_DIR, ignore_errors=True)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()


_LOCKS: dict[str, int] = {}


def hold_run_dir(out_dir) -> None:
    """Hold an exclusive lock on the run directory (`flock` of its config.json) until `release_locks()` or the
    process's end, so that no second process (a `--resume` of the same directory, or of a running run) writes
    into it. Raises `RunDirTaken` when another process holds it."""
    import fcntl
    path = Path(out_dir) / CONFIG_FILE
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RunDirTaken(f"{out_dir} is in use by another jaxrl process (a run or a resume of it): wait for it to "
                          "end or stop it first") from None
    _LOCKS[str(path)] = fd


def release_locks() -> None:
    """Drop every lock `hold_run_dir` took in this process."""
    while _LOCKS:
        os.close(_LOCKS.popitem()[1])


def check_logs(out_dir) -> None:
    """Before a resume trains: the run's CSV logs must be readable (`metrics.csv` present, every row parsed), or
    the end of the run would fail after all its training. Raises `ValueError` naming the file."""
    from jaxrl.host.metrics import read_episodes
    out = Path(out_dir)
    path = out / METRICS_FILE
    if not path.is_file():
        raise ValueError(f"{path} is missing: the episodes logged before the checkpoint are gone, and the run's "
                         "summary needs them (restore the file, or start a new run)")
    try:
        read_episodes(path)
        for other in ("progress.csv", "eval.csv"):
            if (out / other).is_file():
                with open(out / other, newline="") as f:
                    rows = list(csv.reader(f))
                col = rows[0].index("step") if rows else 0
                [int(float(r[col])) for r in rows[1:] if r]
    except (KeyError, ValueError, IndexError, TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"{out}: a log file is damaged ({type(e).__name__}: {e}); restore it or start a new "
                         "run") from None


