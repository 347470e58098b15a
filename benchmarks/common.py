"""Timing method and result records shared by every benchmark.

Method: the code under test is run once to warm up (compilation and caches excluded from the timings), then
timed `repeats` (>= 3) times with `block_until_ready` / synchronous calls; the reported value is the median and
`spread` is (max - min) / median of the repeats' rates.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from typing import Callable

from jaxrl.config import get_preset


@dataclasses.dataclass
class Measurement:
    name: str  # cartpole_sweep, update, replay_add, replay_sample, tabular, matmul_peak, ...
    impl: str  # jaxrl | torch | torch_parallel | flashbax
    params: dict
    value: float  # median rate
    unit: str
    repeats: int
    spread: float  # (max - min) / median of the repeats
    extra: dict = dataclasses.field(default_factory=dict)  # compile_seconds, gflops, ...


def spread(rates) -> float:
    """(max - min) / median of repeated rates."""
    rates = [float(r) for r in rates]
    return (max(rates) - min(rates)) / statistics.median(rates)


def time_rate(run: Callable[[], object], work: float, repeats: int = 3, warmup: bool = True):
    """Rates `work / seconds` of `repeats` timed calls of `run` (which must block until done).
    Returns (median, spread, rates)."""
    if warmup:
        run()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        rates.append(work / (time.perf_counter() - t0))
    return statistics.median(rates), spread(rates), rates


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    import jax
    import numpy
    import torch

    from jaxrl import __version__
    gpus = [str(d) for d in jax.devices() if d.platform == "gpu"]
    info = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "gpu": gpus or None,
        "jax_backend": jax.default_backend(), "platform": platform.platform(), "python": platform.python_version(),
        "versions": {"jaxrl": __version__, "jax": jax.__version__, "torch": torch.__version__,
                     "numpy": numpy.__version__},
    }
    try:
        import flashbax
        info["versions"]["flashbax"] = getattr(flashbax, "__version__", "installed")
    except ImportError:
        info["versions"]["flashbax"] = None
    return info


def machine_slug(info: dict) -> str:
    base = "gpu-" + info["gpu"][0] if info["gpu"] else f"cpu{info['cores']}-" + info["cpu"]
    return "".join(c if c.isalnum() else "-" for c in base.lower()).strip("-")[:60]


def write_result(result: dict, name: str, out=None):
    """`benchmarks/results/<name>-<machine>-<date>.json` (or `out`); -> the path."""
    import json
    from pathlib import Path
    path = out or Path("benchmarks/results") / f"{name}-{machine_slug(result['machine'])}-{result['date']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


# The CartPole sweep that the suite's sweep and update benchmarks and the scale-out time: the cartpole-course
# learner at batch 128, one update per env step, MLP 64-64, replay 10k.
SWEEP_CONFIG = get_preset("cartpole-course").replace(batch_size=128, train_frequency=1, hidden_sizes=(64, 64),
                                                     buffer_size=10_000, learning_starts=1000)


def torch_cartpole_seconds(cfg, repeats: int, threads: int) -> list[float]:
    """Seconds of `repeats` torch_reference CartPole runs of `cfg` (seeds 0..repeats-1), after a short warm-up."""
    from torch_reference.gymnax import make_train
    make_train(cfg.replace(total_steps=cfg.learning_starts + 1000), threads=threads)(0)  # warm-up
    return [make_train(cfg, threads=threads)(i)["seconds"] for i in range(repeats)]
