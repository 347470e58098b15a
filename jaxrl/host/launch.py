"""`jaxrl launch --processes N [--devices-per-process D] -- train ...`: a multi-process JAX run on this host.

It starts N copies of `jaxrl train ... --distributed` with the variables a cluster would set, a free coordinator
port on 127.0.0.1, process ids 0..N-1, and (CPU) D forced host devices each:

    JAX_COORDINATOR_ADDRESS=127.0.0.1:PORT  JAX_NUM_PROCESSES=N  JAX_PROCESS_ID=i

Process 0's output is streamed; the others' go to `launch-<i>.log` files in a temporary directory, whose last
lines are printed if that process fails. When a process exits with an error or is killed, the others are stopped
(SIGTERM, then SIGKILL after `GRACE` seconds) and the launcher exits with the worst status, naming the process.
SIGINT/SIGTERM to the launcher are forwarded to every process (each then checkpoints at its chunk end, in step,
and exits 130, which after a forwarded signal is the answer asked for, not a failure: the launcher waits for
the rest instead of stopping them mid-checkpoint). The processes run in their own session, so a terminal's Ctrl-C
reaches them once, through the launcher, and not a second time from the terminal (a second signal means "stop
now, unsaved"). A launcher killed outright (`kill -9`) takes its processes with it (`die_with_parent`).
The same `--distributed` path runs under SLURM or Kubernetes: docs/multiprocess.md.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from jaxrl.host.exit_codes import EXIT_INTERRUPTED

GRACE = 20.0  # seconds the other processes get to stop after one failed


def die_with_parent() -> None:
    """In a worker, between fork and exec: the kernel sends it SIGKILL when the launcher dies (Linux's
    `PR_SET_PDEATHSIG`), so a `kill -9` of the launcher leaves no orphans behind (they lose what a kill -9 loses:
    the work since their last checkpoint). Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() == 1:  # the launcher died before the prctl took effect
        os._exit(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worst(codes: list[int]) -> int:
    """The exit status to report: a signal death (negative) as 128 + signal, then the largest."""
    return max((128 - c if c < 0 else c) for c in codes) if codes else 0


def launch(processes: int, devices_per_process: int, argv: list[str], *, stream=None) -> int:
    """Run `jaxrl <argv> --distributed` as `processes` processes; -> the worst exit status."""
    stream = stream or sys.stdout
    argv = list(argv)
    if "--distributed" not in argv:
        argv.append("--distributed")
    if devices_per_process and "--cpu-devices" not in argv:
        argv += ["--cpu-devices", str(devices_per_process)]
    port = free_port()
    logs = Path(tempfile.mkdtemp(prefix="jaxrl-launch-"))
    procs, files = [], []
    for i in range(processes):
        env = {**os.environ, "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}", "JAX_NUM_PROCESSES": str(processes),
               "JAX_PROCESS_ID": str(i)}
        out = subprocess.PIPE if i == 0 else open(logs / f"launch-{i}.log", "w")
        files.append(out)
        procs.append(subprocess.Popen([sys.executable, "-m", "jaxrl.cli", *argv], env=env, stdout=out,
                                      stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                      preexec_fn=die_with_parent))
    pump = threading.Thread(target=_pump, args=(procs[0].stdout, stream), daemon=True)
    pump.start()

    forwarded = threading.Event()

    def forward(signum, frame):
        forwarded.set()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        failed = _wait(procs, forwarded.is_set)
        if failed is not None:
            code = procs[failed].returncode
            print(f"jaxrl launch: process {failed} exited with status {worst([code])}; stopping the others",
                  file=stream, flush=True)
            _stop(procs)
            if failed:
                tail = (logs / f"launch-{failed}.log").read_text().strip().splitlines()[-5:]
                print("\n".join(f"  [process {failed}] {line}" for line in tail), file=stream, flush=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        pump.join(timeout=5)
        for f in files[1:]:
            f.close()
    return worst([p.returncode for p in procs])


def _pump(pipe, stream):
    for line in pipe:
        stream.write(line)
        stream.flush()


def _wait(procs, forwarded=lambda: False) -> int | None:
    """Wait for every process; -> the index of the first one that failed, or None. Once `forwarded()` (a signal
    was passed on), exit status 130 (checkpointed and stopped) is each process's expected answer, not a failure."""
    while True:
        codes = [p.poll() for p in procs]
        ok = (0, EXIT_INTERRUPTED) if forwarded() else (0,)
        for i, c in enumerate(codes):
            if c is not None and c not in ok:
                return i
        if all(c is not None for c in codes):
            return None
        time.sleep(0.2)


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.time() + GRACE
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
