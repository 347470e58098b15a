"""`jaxrl doctor`: what this machine will run jaxrl on, and whether envpool's XLA loop works on its backend.

    jaxrl doctor [--no-probe] [--json FILE] [--probe-timeout SECONDS]

Prints versions, JAX's backend and devices, the GPUs `nvidia-smi` sees, envpool and its Atari ROMs, the
convolution kernel the Nature CNN will run (`jaxrl.agents.networks.conv_kernel`), and the result of an `env.xla()`
probe. The probe runs in a child process with a timeout: envpool's C++ aborts the whole process on a failed
check (its GPU handler copies actions to the host and the state back every step), and that must not take the
caller down.

Two checks stop a run before anything is compiled or written (`jaxrl train` uses them on Atari runs):
  * `cuda_jax_missing()`: `nvidia-smi` sees a GPU but JAX's backend is the CPU (CPU-only jaxlib installed):
    one line saying how to install CUDA jax. `JAX_PLATFORMS=cpu` set by hand means "use the CPU": no refusal.
  * `xla_loop_problem()`: on a non-CPU backend, the `env.xla()` probe failed: one line naming `--loop host`.
    (On the CPU backend the XLA loop is what the test suite runs, so no probe is made there.)
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time

PACKAGES = ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin", "flax", "optax", "chex", "numpy", "envpool",
            "envpool-assets", "gymnax", "gymnasium", "tyro", "tensorboardX", "torch", "opencv-python-headless",
            "imageio-ffmpeg")
INSTALL_CUDA_JAX = ("pip install -c constraints.txt -e '.[cuda]' (or `make sweep CUDA=1`), which needs an NVIDIA "
                    "driver >= 525; set JAX_PLATFORMS=cpu to run on the CPU anyway")
PROBE_TIMEOUT = 120.0


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def nvidia_gpus(timeout: float = 20.0) -> list[str]:
    """GPU lines of `nvidia-smi -L` ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: ...)"); [] without nvidia-smi."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=timeout).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.splitlines() if line.startswith("GPU ")]


def nvidia_driver(timeout: float = 20.0) -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=timeout).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out[0] if out else None


def cuda_jax_missing() -> str | None:
    """The one-line refusal when a GPU is visible but JAX runs on the CPU, else None."""
    if "cpu" in os.environ.get("JAX_PLATFORMS", "").lower():
        return None
    gpus = nvidia_gpus()
    if not gpus:
        return None
    import jax
    if jax.default_backend() != "cpu":
        return None
    return (f"nvidia-smi sees {len(gpus)} GPU(s) ({gpus[0].split('(')[0].split(':', 1)[-1].strip()}) but JAX "
            f"{jax.__version__} runs on the CPU (no CUDA jaxlib plugin): {INSTALL_CUDA_JAX}")


# ------------------------------------------------------------------------------------------- env.xla() probe
PROBE_CODE = """
import json, sys, time
t0 = time.perf_counter()
import jax, jax.numpy as jnp, numpy as np
from jaxrl.envs.envpool_env import make_envpool
env = make_envpool("Pong-v5", 2, 0)
obs, _ = env.reset()                      # synchronous reset before the first XLA step
handle, _, _, step = env.xla()
step = jax.jit(step)
frames = []
for i in range(8):
    handle, out = step(handle, jnp.asarray(np.full(2, i % 6, np.int32)))
    frames.append(float(jnp.asarray(out[0]).astype(jnp.float32).mean()))
jax.block_until_ready(handle)
print(json.dumps({"ok": min(frames) > 0.0, "backend": jax.default_backend(), "obs_shape": list(out[0].shape),
                  "mean_pixel": frames[-1], "seconds": time.perf_counter() - t0,
                  "error": None if min(frames) > 0.0 else "env.xla() returned all-zero frames"}))
"""


def run_probe(code: str, timeout: float) -> dict:
    """Run `code` in a child Python (this interpreter, same environment) that prints one JSON object last.
    -> that object, or {"ok": False, "error": ...} on a crash, an abort, a timeout or unreadable output."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:g} s (hung)", "seconds": timeout}
    seconds = time.perf_counter() - t0
    if r.returncode:
        how = f"killed by signal {-r.returncode}" if r.returncode < 0 else f"exit status {r.returncode}"
        last = [line for line in (r.stderr or r.stdout).strip().splitlines() if line.strip()][-1:]
        return {"ok": False, "error": f"{how}" + (f": {last[0][:300]}" if last else ""), "seconds": seconds}
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "error": f"no result from the probe: {r.stdout[-300:]!r}", "seconds": seconds}


def probe_env_xla(timeout: float = PROBE_TIMEOUT) -> dict:
    """Step a 2-env Pong pool through `env.xla()` in a child process (see `PROBE_CODE`)."""
    if _version("envpool") is None:
        return {"ok": False, "error": "envpool is not installed"}
    return run_probe(PROBE_CODE, timeout)


def xla_loop_problem(timeout: float = PROBE_TIMEOUT) -> str | None:
    """On a non-CPU backend: None if the `env.xla()` probe passes, else the one-line refusal."""
    import jax
    if jax.default_backend() == "cpu":
        return None
    probe = probe_env_xla(timeout)
    if probe.get("ok"):
        return None
    return (f"envpool's env.xla() failed on the {jax.default_backend()} backend ({probe['error']}): run with "
            "--loop host (envpool stepped from Python between jitted learner steps)")


# ------------------------------------------------------------------------------------------- the report
def report(probe: bool = True, probe_timeout: float = PROBE_TIMEOUT) -> dict:
    """Everything `jaxrl doctor` prints, as plain data."""
    import jax

    from jaxrl import __version__
    from jaxrl.agents.networks import conv_kernel
    from jaxrl.config import DQNConfig
    info = {
        "jaxrl": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "versions": {name: _version(name) for name in PACKAGES},
        "jax_backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
        "device_kinds": sorted({d.device_kind for d in jax.devices()}),
        "nvidia_smi_gpus": nvidia_gpus(), "nvidia_driver": nvidia_driver(),
        "jax_platforms_env": os.environ.get("JAX_PLATFORMS"), "conv_kernel": conv_kernel(),
        "conv_kernel_many_seeds": conv_kernel(num_seeds=2), "compute_dtype_default": DQNConfig().compute_dtype,
        "cpu_count": os.cpu_count(),
    }
    try:
        from jaxrl.envs.envpool_env import env_spec
        info["envpool_pong"] = {"ok": True, "num_actions": env_spec("Pong-v5")[0]}
    except Exception as e:  # noqa: BLE001 - a report: any failure is information
        info["envpool_pong"] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
    info["env_xla_probe"] = probe_env_xla(probe_timeout) if probe else {"ok": None, "error": "not probed"}
    info["cuda_jax_missing"] = cuda_jax_missing()
    return info


def format_report(info: dict) -> str:
    v = info["versions"]
    probe = info["env_xla_probe"]
    lines = [
        f"jaxrl {info['jaxrl']}  python {info['python']}  {info['platform']}",
        "versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val),
        "missing:  " + (", ".join(k for k, val in v.items() if not val) or "-"),
        f"jax backend: {info['jax_backend']}  devices: {', '.join(info['devices'])} "
        f"({', '.join(info['device_kinds'])})",
        f"nvidia-smi: {'; '.join(info['nvidia_smi_gpus']) or 'no GPU (or no nvidia-smi)'}"
        + (f"  driver {info['nvidia_driver']}" if info["nvidia_driver"] else ""),
        f"Nature CNN convolution kernel (--conv auto): {info['conv_kernel']} for 1 seed, "
        f"{info['conv_kernel_many_seeds']} for more; compute dtype (--compute-dtype): {info['compute_dtype_default']}",
        "envpool Pong-v5: " + ("ok" if info["envpool_pong"]["ok"] else f"NOT available ({info['envpool_pong']['error']})"),
        "env.xla() probe: " + ("not run" if probe["ok"] is None else
                               f"ok ({probe.get('seconds', 0):.1f} s, obs {probe.get('obs_shape')})" if probe["ok"]
                               else f"FAILED: {probe['error']}"),
    ]
    return "\n".join(lines)
