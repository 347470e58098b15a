"""The one stoppable driver of every DQN run, gymnax sweeps and envpool (Atari) runs alike.

A runner hands the driver a `Chunks`: how far it is, how to advance by `n` units (blocks of a gymnax scan, or
vectorized env steps of an Atari loop), how to log a chunk and how to checkpoint. The driver owns the rest,
the same way for every env:

    with StopFlag() as stop:            # SIGINT/SIGTERM: finish the chunk, checkpoint, exit 130
        chunks = runner(...)            # compiling happens here, under the flag too
        seconds = drive(chunks, stop, bar, out, console)

- one progress bar, updated per chunk with the runner's text;
- a checkpoint every `checkpoint_every` env steps, at the end when asked, and when a stop was requested;
- a line per seed that diverges (non-finite loss or parameters), and `Diverged` when every seed has;
- `Interrupted` (exit 130) after the checkpoint when SIGINT/SIGTERM arrived; a second signal stops at once;
- in a multi-process run, every process runs this loop in step and agrees on the stop at each chunk end.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from jaxrl.host.checkpoint import Interrupted, divergence_report, raise_if_all_diverged
from jaxrl.host.exit_codes import EXIT_INTERRUPTED


@dataclasses.dataclass
class Chunks:
    """A runner as the driver sees it. Units are what `advance` counts (blocks or loop iterations).

    done, total, per_chunk: units run so far, in all, and per chunk (the last chunk may be shorter);
    env_steps(units) -> env steps per agent after that many units;
    advance(done, n) -> the chunk's metrics on the host, after `n` more units (the runner keeps its state);
    record(done_before, n, metrics, seconds) -> progress text (CSV rows, TensorBoard, evaluations);
    save(done): write the checkpoint; diverged_at() -> `[S]` env step of the first non-finite update, -1 = never.
    """

    done: int
    total: int
    per_chunk: int
    env_steps: Callable[[int], int]
    advance: Callable[[int, int], Any]
    record: Callable[[int, int, Any, float], str]
    save: Callable[[int], None]
    diverged_at: Callable[[], np.ndarray]
    checkpoint_every: int = 0
    save_at_end: bool = True


class StopFlag:
    """SIGINT/SIGTERM set a flag (the run checkpoints at the end of the chunk and stops) and say so at once; a
    second signal stops the process now, nothing saved since the last checkpoint: `at_once()` (set by the
    caller once it knows its run directory) tidies up and returns the line to print, which goes straight to
    file descriptor 2, and the process exits 130 with `os._exit`. Nothing is raised from the handler, so where
    the interpreter happens to be (a garbage-collection callback, a write to the same stream) does not matter."""

    def __init__(self, stream=None):
        self.requested = False
        self.stream = stream
        self.at_once = lambda: "stopped at once"

    def __enter__(self):
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def reinstall(self) -> None:
        """Take SIGINT/SIGTERM back (`jax.distributed.initialize` installs a preemption notifier on SIGTERM)."""
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, self._handle)

    def _handle(self, signum, frame):
        if self.requested:
            stop_now(self.at_once)
        self.requested = True
        _say(f"\n{signal.Signals(signum).name}: stopping at the end of this chunk and writing a checkpoint "
             "(signal again to stop now, unsaved)", self.stream)

    def __exit__(self, *exc):
        for s, handler in self._old.items():
            signal.signal(s, handler)


def _say(line: str, stream=None) -> None:
    """One line from a signal handler: to `stream` if given (tests), else straight to file descriptor 2, which
    works even when the handler interrupted a write to sys.stderr (a reentrant buffered write would raise)."""
    if stream is not None:
        print(line, file=stream, flush=True)
        return
    try:
        sys.stderr.flush()
    except (RuntimeError, OSError, ValueError):
        pass
    os.write(2, (line + "\n").encode())


def stop_now(at_once) -> None:
    """Exit 130 at once: `at_once()`'s line on file descriptor 2, output flushed where possible, `os._exit` (XLA
    may be compiling in its threads; tearing the interpreter down under them crashes)."""
    try:
        line = at_once()
    except BaseException as e:  # noqa: BLE001 - the exit must happen whatever the tidy-up met
        line = f"stopped at once ({type(e).__name__}: {e})"
    try:
        sys.stdout.flush()
    except (RuntimeError, OSError, ValueError):
        pass
    try:
        _say(line)
    finally:
        os._exit(EXIT_INTERRUPTED)


def drive(chunks: Chunks, stop: StopFlag, bar, out: Path, console=None) -> float:
    """Run `chunks` to the end or to a stop; -> seconds spent in `advance` (compiling is done before)."""
    say = console.print if console is not None else print
    seen, run_seconds = set(), 0.0
    c = chunks
    while c.done < c.total and not agreed(stop.requested):
        n = min(c.per_chunk, c.total - c.done)
        t = time.perf_counter()
        metrics = c.advance(c.done, n)
        seconds = time.perf_counter() - t
        run_seconds += seconds
        text = c.record(c.done, n, metrics, seconds)
        c.done += n
        bar(c.env_steps(c.done), text)
        f, now, before = c.checkpoint_every, c.env_steps(c.done), c.env_steps(c.done - n)
        if (f and now // f > before // f) or (c.save_at_end and c.done == c.total):
            c.save(c.done)
        diverged_at = c.diverged_at()
        for line in divergence_report(diverged_at, seen):
            say(line)
        if len(seen) == len(diverged_at) and c.done < c.total:
            c.save(c.done)
            raise_if_all_diverged(diverged_at, out)
    if c.done < c.total:  # the loop ended on an agreed stop request
        c.save(c.done)
        from jaxrl.host.rundir import shell_quote
        raise Interrupted(f"interrupted at env step {c.env_steps(c.done):,} per agent; checkpoint written: resume "
                          f"with `jaxrl train --resume {shell_quote(out)}`")
    return run_seconds



def agreed(flag: bool) -> bool:
    """`flag` of any process (one all-gather per chunk in a multi-process run): every process stops at the same
    chunk end even when the signal reached them at different times."""
    import jax
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils
    return bool(np.asarray(multihost_utils.process_allgather(np.array([flag]))).any())
