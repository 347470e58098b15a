"""Where a Pong loop's time goes: a `jax.profiler` trace of one learning chunk, summarized per thread and op.

For each loop (`benchmarks.pong.LOOPS`; the course's preset, one agent, buffer filled and caches warm as in
`pong_sps`) one chunk of `iterations` env steps runs under `jax.profiler.trace`. The trace's complete events
are grouped by the thread that ran them (a GPU stream, an XLA worker, the Python thread; envpool's own
threads emit no events: its time shows as the wait in its recv or `env.step`) and by (thread, op name), and
reported per env step: the wall time, each thread's busy time (union of its events' intervals within the
timed chunk, so nested events count once) and the ops taking most time. On a GPU this says whether
the update is bound by its kernels or by launching them, and how much of the env step the device waits for.

    python -m benchmarks --only pong_trace          (or as a part of `python -m benchmarks.gpu`)
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import jax

from benchmarks.common import Measurement

TOP_OPS = 25
TOP_THREADS = 10


WINDOW = "pong_trace: timed chunk"  # the `jax.profiler.TraceAnnotation` around the timed chunk


def summarize(events: list[dict], env_steps: int, window: str | None = None) -> dict:
    """A Chrome/perfetto trace's events -> busy time per thread, the top ops and the top Python frames (their
    totals include what they call), in microseconds per env step. `window`: the name of the event whose span
    counts (every event is clipped to it); default the whole trace."""
    span = next(((float(e["ts"]), float(e["ts"]) + float(e["dur"])) for e in events
                 if window is not None and e.get("ph") == "X" and e.get("name") == window), None)
    if window is not None and span is None:
        raise RuntimeError(f"no event {window!r} in the trace")
    lo, hi = span or (float("-inf"), float("inf"))
    names = {}  # (pid, tid) or (pid, None) -> name
    for e in events:
        if e.get("ph") == "M" and e.get("name") in ("process_name", "thread_name"):
            names[e["pid"], e.get("tid") if e["name"] == "thread_name" else None] = e.get("args", {}).get("name", "")
    spans, ops = defaultdict(list), defaultdict(lambda: [0.0, 0])
    for e in events:
        if e.get("ph") != "X" or "dur" not in e:
            continue
        a, b = max(float(e["ts"]), lo), min(float(e["ts"]) + float(e["dur"]), hi)
        if (b <= a and not (a == b and lo <= a <= hi)) or e.get("name") == window:  # outside, or the window
            continue
        thread = (names.get((e["pid"], None), str(e["pid"])), names.get((e["pid"], e.get("tid")), str(e.get("tid"))))
        if not e.get("name", "").startswith("$"):  # a Python frame wraps its thread's work: ops only
            spans[thread].append((a, b))
        op = ops[(*thread, e.get("name", ""))]
        op[0] += b - a
        op[1] += 1
    threads = []
    for (process, thread), intervals in spans.items():
        busy, end = 0.0, float("-inf")
        for a, b in sorted(intervals):
            if b > end:
                busy += b - max(a, end)
                end = b
        threads.append({"process": process, "thread": thread, "busy_us_per_env_step": busy / env_steps,
                        "events_per_env_step": len(intervals) / env_steps})
    threads.sort(key=lambda t: -t["busy_us_per_env_step"])

    def top(python: bool):  # Python frames (the profiler's Python tracer: "$file:line function") apart
        rows = sorted(((k, v) for k, v in ops.items() if k[2].startswith("$") == python), key=lambda kv: -kv[1][0])
        return [{"process": p, "thread": t, "name": n[:160], "us_per_env_step": d / env_steps,
                 "count_per_env_step": c / env_steps} for (p, t, n), (d, c) in rows[:TOP_OPS]]

    return {"threads": threads[:TOP_THREADS], "ops": top(False), "python": top(True)}


def read_trace(log_dir: Path) -> tuple[list[dict], Path]:
    """-> (events, path) of the Perfetto trace `jax.profiler.trace(log_dir, create_perfetto_trace=True)` wrote."""
    files = sorted(log_dir.rglob("perfetto_trace.json.gz"))
    if not files:
        raise RuntimeError(f"jax.profiler wrote no perfetto_trace.json.gz under {log_dir}")
    with gzip.open(files[-1], "rt") as f:
        doc = json.load(f)
    return (doc["traceEvents"] if isinstance(doc, dict) else doc), files[-1]


def bench_pong_trace(iterations: int, loops=None, keep: Path | None = None, keep_loops=None) -> list[Measurement]:
    """One traced learning chunk per loop (default `benchmarks.pong.LOOPS`); value = wall microseconds per env
    step of that chunk, `extra` = `summarize`'s threads and ops. `keep`: a folder to copy the raw traces of
    `keep_loops` (default all) into, as `pong-trace-<loop>.json.gz`."""
    from benchmarks.pong import LOOPS, jaxrl_runner
    out = []
    for loop in loops or LOOPS:
        chunk, close = jaxrl_runner(loop, 1, iterations)
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as closing:
            closing.callback(close)  # the env pool, also when the trace fails
            with jax.profiler.trace(tmp, create_perfetto_trace=True):
                with jax.profiler.TraceAnnotation(WINDOW):
                    rate = chunk()  # env steps per second of the chunk (one agent, one env)
            events, path = read_trace(Path(tmp))
            if keep is not None and (keep_loops is None or loop in keep_loops):
                keep.mkdir(parents=True, exist_ok=True)
                (keep / f"pong-trace-{loop}.json.gz").write_bytes(path.read_bytes())
        summary = summarize(events, iterations, WINDOW)
        us = 1e6 / rate
        out.append(Measurement("pong_trace", "jaxrl", {"loop": loop, "seeds": 1, "num_envs": 1, "env_steps": iterations,
                                                       "backend": jax.default_backend()}, us, "us/env_step", 1, 0.0,
                               summary))
        busiest = ", ".join(f"{t['thread'][:30]} {t['busy_us_per_env_step']:,.0f}" for t in summary["threads"][:4])
        print(f"  pong_trace {loop:11s}: {us:,.0f} us/env step traced; busy us/env step: {busiest}", flush=True)
    return out
