"""Seeds x hyperparameter grid as one program, and the sweep axis sharded over devices."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxrl.config import DQNConfig
from jaxrl.runners.grid import padded_size, sweep_hparams, sweep_keys, sweep_labels
from jaxrl.host.sweep import run_sweep
from tests.test_pong import TINY as PONG_TINY, flags_with

ROOT = Path(__file__).resolve().parents[1]
TINY = DQNConfig(num_seeds=2, total_steps=3000, learning_starts=500, buffer_size=2000, batch_size=32)


def test_grid_points_are_the_cartesian_product():
    cfg = TINY.replace(grid=("learning_rate=1e-3,3e-4", "target_update_frequency=100,200,300"))
    points = cfg.grid_points()
    assert len(points) == 6 and cfg.sweep_size == 12
    assert points[0] == {"learning_rate": 1e-3, "target_update_frequency": 100}
    assert points[5] == {"learning_rate": 3e-4, "target_update_frequency": 300}
    hp = sweep_hparams(cfg)
    assert hp.learning_rate.dtype == np.float32 and hp.target_update_frequency.dtype == np.int32
    assert hp.target_update_frequency.tolist() == [100, 100, 200, 200, 300, 300] * 2
    assert hp.gamma.tolist() == [np.float32(0.99)] * 12  # not gridded: the config's value
    keys = sweep_keys(cfg)
    assert keys.shape == (12, 2) and (keys[0] == keys[2]).all() and not (keys[0] == keys[1]).all()
    assert sweep_labels(cfg)[3] == {"point": 1, "seed": 1, "learning_rate": 1e-3, "target_update_frequency": 200}
    assert TINY.grid_points() == [{}] and TINY.sweep_size == 2
    assert [padded_size(n, 4) for n in (1, 4, 6, 9)] == [4, 4, 8, 12]


@pytest.mark.parametrize("grid,message", [
    (("batch_size=32,64",), "NAME one of learning_rate"),
    (("learning_rate",), "entries NAME=V1,V2"),
    (("gamma=0.9,abc",), "comma-separated float values"),
    (("gamma=",), "at least one value"),
    (("gamma=0.9", "gamma=0.8"), "each field once"),
    (("gamma=0.9,1.5",), "DQNConfig.gamma=1.5"),
    (("target_update_frequency=0",), "DQNConfig.target_update_frequency=0"),
    (("egreedy=0.001",), "DQNConfig.egreedy_final=0.01"),
])
def test_bad_grids(grid, message):
    with pytest.raises(ValueError, match=message):
        TINY.replace(grid=grid).validate()


def test_envpool_runs_take_no_grid():
    from jaxrl.config import get_preset
    with pytest.raises(ValueError, match="DQNConfig.grid"):
        get_preset("pong").replace(grid=("gamma=0.9,0.99",)).validate_envpool()


def test_grid_values_are_traced_and_used():
    """gamma 0 vs 0.99 in one program: the same keys give the same warm-up episodes (before any update),
    then the points learn differently; per-point summary."""
    from jaxrl.host.sweep import summarize
    result = run_sweep(TINY.replace(grid=("gamma=0.0,0.99",)), progress=False)
    ep = result.episodes
    first = lambda i: ep["return"][(ep["seed"] == i) & (ep["step"] <= 500)]  # noqa: E731
    np.testing.assert_array_equal(first(0), first(2))  # point 0 seed 0 == point 1 seed 0 before learning
    np.testing.assert_array_equal(first(1), first(3))
    assert not np.array_equal(first(0), first(1))  # different seeds differ
    assert result.losses.shape[0] == 4
    assert np.abs(result.losses[0].mean() - result.losses[2].mean()) > 1e-3  # gamma changes the targets
    summary = summarize(result)
    assert [(p["gamma"], p["seeds"]) for p in summary["per_point"]] == [(0.0, 2), (0.99, 2)]


SHARD_SCRIPT = """
import json, sys
import jax, numpy as np
from jaxrl.config import DQNConfig
from jaxrl.host.sweep import run_sweep
cfg = DQNConfig(num_seeds=3, total_steps=3000, learning_starts=500, buffer_size=2000, batch_size=32,
                grid=("learning_rate=1e-3,3e-4",))
r = run_sweep(cfg, progress=False)
print(json.dumps({"devices": jax.device_count(), "agents": int(r.losses.shape[0]),
                  "params_leading": int(jax.tree_util.tree_leaves(r.params)[0].shape[0]),
                  "seed": r.episodes["seed"].tolist(), "step": r.episodes["step"].tolist(),
                  "return": r.episodes["return"].tolist()}))
"""


def run_on(devices: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    out = subprocess.run([sys.executable, "-c", SHARD_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sharded_over_4_devices_matches_1_device():
    """6 agents (2 points x 3 seeds) on 4 forced host devices: padded to 8, the padding dropped, and every agent
    plays the same episodes as on 1 device. Compared over the first 2,000 env steps: 4 devices run 2 agents
    each, 1 device 6 at once, and those differently batched XLA programs round differently in float32 (the same
    as one seed alone vs inside a sweep, `tests/test_train.py`); measured identical for 2,764-2,990 of 3,000
    steps."""
    one, four = run_on(1), run_on(4)
    assert (one["devices"], four["devices"]) == (1, 4)
    assert one["agents"] == four["agents"] == four["params_leading"] == 6
    for run in (one, four):
        run["rows"] = [(s, st, r) for s, st, r in zip(run["seed"], run["step"], run["return"]) if st <= 2000]
    assert one["rows"] == four["rows"] and len(one["rows"]) > 100


def test_pong_seed_sweep_on_2_devices(tmp_path):
    """Host loop, 2 forced devices, 2 seeds: one agent (and its slice of the envpool) per device. The XLA loop
    is refused with a one-line error (envpool's custom calls cannot be SPMD-partitioned)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    flags = [*flags_with(PONG_TINY, total_steps=2048, learning_starts=1024, eval_frequency=0), "--no-video",
             "--num-seeds", "2"]
    cmd = [sys.executable, "-m", "jaxrl.cli", "train", *flags]
    bad = subprocess.run(cmd + ["--loop", "xla", "--out-dir", str(tmp_path / "x")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "envpool's XLA ops cannot be partitioned" in bad.stderr
    assert bad.stderr.count("\n") == 1 and not (tmp_path / "x").exists()
    odd = subprocess.run(flags_with(cmd, num_seeds=3) + ["--loop", "host", "--out-dir", str(tmp_path / "y")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert odd.returncode == 2 and "a multiple of the 2 visible devices" in odd.stderr
    ok = subprocess.run(cmd + ["--loop", "host", "--out-dir", str(tmp_path / "h")], env=env, capture_output=True,
                        text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    summary = json.loads((tmp_path / "h" / "summary.json").read_text())
    assert len(summary["devices"]) == 2 and len(summary["per_seed"]) == 2
    assert all(s["episodes"] >= 1 for s in summary["per_seed"])
