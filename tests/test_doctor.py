"""`jaxrl doctor`, its env.xla() probe in a child process, and the refusal to train on CPU-only jax next to a GPU.

A fake `nvidia-smi` on PATH stands in for a GPU machine whose jax has no CUDA plugin."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxrl.host import doctor
from jaxrl.cli import main

ROOT = Path(__file__).resolve().parent.parent
FAKE_NVIDIA_SMI = """#!/bin/sh
if [ "$1" = "-L" ]; then echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000000)"
else echo "580.159.04"; fi
"""


@pytest.fixture
def gpu_path(tmp_path):
    """PATH with a fake nvidia-smi first; environment without JAX_PLATFORMS."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (bin_dir / "nvidia-smi").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def jaxrl(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "jaxrl", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_report_on_this_machine(tmp_path, capsys):
    out = tmp_path / "doctor.json"
    assert main(["doctor", "--json", str(out)]) == 0
    info = json.loads(out.read_text())
    assert info["jax_backend"] == "cpu" and info["conv_kernel"] == "im2col"
    assert info["versions"]["jax"] and info["versions"]["envpool"]
    assert info["envpool_pong"] == {"ok": True, "num_actions": 6}
    assert info["env_xla_probe"]["ok"] is True and info["env_xla_probe"]["obs_shape"] == [2, 4, 84, 84]
    assert info["cuda_jax_missing"] is None
    text = capsys.readouterr().out
    assert "env.xla() probe: ok" in text and "convolution kernel (--conv auto): im2col" in text


def test_probe_survives_abort_hang_and_garbage():
    aborted = doctor.run_probe("import os; os.abort()", timeout=60)
    assert aborted["ok"] is False and "signal 6" in aborted["error"]
    hung = doctor.run_probe("import time; time.sleep(60)", timeout=1)
    assert hung["ok"] is False and "timed out after 1 s" in hung["error"]
    failed = doctor.run_probe("raise SystemExit('envpool check failed')", timeout=60)
    assert failed["ok"] is False and "exit status 1: envpool check failed" in failed["error"]
    garbage = doctor.run_probe("print('not json')", timeout=60)
    assert garbage["ok"] is False and "no result" in garbage["error"]
    assert doctor.run_probe("print('{\"ok\": true}')", timeout=60) == {"ok": True}


def test_no_xla_probe_on_the_cpu_backend():
    assert doctor.xla_loop_problem(timeout=0.001) is None  # the CPU's XLA loop is what the tests run


def test_gpu_without_cuda_jax_is_refused(gpu_path, tmp_path):
    r = jaxrl(["doctor", "--no-probe"], gpu_path, tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("jaxrl: error: nvidia-smi sees 1 GPU(s) (NVIDIA H100")
    assert "pip install -c constraints.txt -e '.[cuda]'" in r.stderr and "JAX_PLATFORMS=cpu" in r.stderr
    assert "jax backend: cpu" in r.stdout  # the report is still printed

    run_dir = tmp_path / "pong"
    r = jaxrl(["train", "--preset", "pong", "--out-dir", str(run_dir)], gpu_path, tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nvidia-smi sees 1 GPU(s)" in r.stderr
    assert not run_dir.exists()


def test_jax_platforms_cpu_means_cpu_on_purpose(gpu_path, tmp_path):
    r = jaxrl(["doctor", "--no-probe"], {**gpu_path, "JAX_PLATFORMS": "cpu"}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "GPU 0: NVIDIA H100" in r.stdout


def test_doctor_bad_flag_is_one_line(capsys):
    assert main(["doctor", "--probe-timeout", "soon"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jaxrl: error:")
