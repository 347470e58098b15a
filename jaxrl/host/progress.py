"""The one progress display of every run: a rich bar on a terminal, a plain line every `PLAIN_EVERY` seconds
when stderr is a pipe or a file (so a log shows progress too), nothing when disabled.

    with ProgressBar(total_env_steps, enabled=True, done=0) as bar:
        bar.update(env_steps, "mean return -20.1")   # thread-safe; never moves backwards
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

PLAIN_EVERY = 30.0  # seconds between plain progress lines off a terminal


class ProgressBar:
    """Env steps per agent out of `total`; `update` may be called from any thread (e.g. a `jax.debug.callback`
    once per seed, in any order: the bar shows the furthest)."""

    def __init__(self, total: int, enabled: bool = True, done: int = 0, stream=None):
        self.total, self.enabled, self.done, self.text = total, enabled, done, ""
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()
        self._bar = self._task = None
        self._t0 = self._last_line = 0.0

    def __enter__(self):
        self._t0 = self._last_line = time.perf_counter()
        if self.enabled and getattr(self.stream, "isatty", lambda: False)():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self._bar = Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("env steps/seed"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.description}"), console=Console(file=self.stream))
            self._bar.start()
            self._task = self._bar.add_task("", total=self.total, completed=self.done)
        return self

    def update(self, env_steps, text: str = "") -> None:
        with self._lock:
            self.done, self.text = max(self.done, int(np.max(env_steps))), text or self.text
            if self._bar is not None:
                self._bar.update(self._task, completed=self.done, description=self.text)
            elif self.enabled and time.perf_counter() - self._last_line >= PLAIN_EVERY:
                self._plain_line()

    __call__ = update

    def _plain_line(self) -> None:
        self._last_line = time.perf_counter()
        elapsed = self._last_line - self._t0
        print(f"training: {self.done:,}/{self.total:,} env steps/seed ({100 * self.done / max(self.total, 1):.0f}%), "
              f"{elapsed:.0f} s" + (f", {self.text}" if self.text else ""), file=self.stream, flush=True)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.update(self._task, completed=self.total if exc[0] is None else self.done)
            self._bar.stop()
        elif self.enabled and exc[0] is None and self.done:
            self._plain_line()
