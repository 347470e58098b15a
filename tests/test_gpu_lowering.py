"""The GPU path, lowered for CUDA on this CPU-only machine (`lowering_platforms=("cuda",)`; no CUDA needed).

Each compiled program that a GPU run executes (the gymnax sweep, the Pong host-loop step, the Pong XLA-loop
chunk) must lower for CUDA, and the lowered module must not hold anything that only runs on a CPU: a custom
call whose target names the CPU (`xla_ffi_python_cpu_callback` from a `jax.debug.callback` lowered for the
wrong platform, LAPACK, ducc FFT) or the CPU-only im2col convolution.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.config import get_preset
from jaxrl.agents.networks import conv_kernel

CPU_ONLY = re.compile(r"cpu|lapack|ducc", re.IGNORECASE)


def custom_call_targets(module_text: str) -> set[str]:
    return set(re.findall(r"stablehlo\.custom_call @([\w.$-]+)", module_text)) | set(
        re.findall(r'call_target_name = "([^"]+)"', module_text))


def lower(jitted, *args, platform: str = "cuda") -> str:
    return jitted.trace(*args).lower(lowering_platforms=(platform,)).as_text()


def assert_gpu_clean(text: str) -> set[str]:
    targets = custom_call_targets(text)
    bad = sorted(t for t in targets if CPU_ONLY.search(t))
    assert not bad, f"CPU-only custom calls in the CUDA module: {bad}"
    return targets


def test_checker_finds_a_cpu_only_call():
    """The check can fail: a Cholesky factorization lowered for the CPU is a LAPACK custom call."""
    text = lower(jax.jit(jnp.linalg.cholesky), jnp.eye(3), platform="cpu")
    with pytest.raises(AssertionError, match="lapack"):
        assert_gpu_clean(text)


def test_conv_kernel_per_backend():
    assert conv_kernel("cpu") == "im2col"
    assert conv_kernel("gpu") == conv_kernel("cuda") == "xla"


def test_gymnax_sweep_program_lowers_for_cuda():
    """(Without the progress callback: a host callback needs the target's backend to lower, here absent.)"""
    from jaxrl.runners.gymnax import make_train
    cfg = get_preset("rainbow").replace(total_steps=2000, learning_starts=500, buffer_size=1000, num_seeds=2)
    text = lower(jax.jit(jax.vmap(make_train(cfg))), jax.random.split(jax.random.PRNGKey(0), 2))
    assert_gpu_clean(text)
    assert "stablehlo.while" in text


@pytest.fixture(scope="module")
def pong():
    from jaxrl.runners.atari import make_atari_learner, split_seeds
    from jaxrl.envs.envpool_env import make_envpool, reset_step
    cfg = get_preset("pong").replace(num_envs=2, buffer_size=1000, learning_starts=100, total_steps=10_000,
                                     log_frequency=100, eval_frequency=0, checkpoint_frequency=0)
    learner = make_atari_learner(cfg, 6, conv_impl=conv_kernel("cuda"))
    env = make_envpool(cfg.env_id, 2, 0)
    state = learner.init(jax.random.split(jax.random.PRNGKey(0), 1))
    ts = split_seeds(reset_step(env.reset()[0]), 1)
    yield learner, env, state, ts
    env.close()


def test_pong_host_step_lowers_for_cuda(pong):
    from jaxrl.runners.atari import make_host_step
    learner, _, state, ts = pong
    text = lower(make_host_step(learner), state, ts, np.int32(0), np.int32(0))
    assert_gpu_clean(text)
    assert "stablehlo.convolution" in text  # cuDNN's convolution, not im2col's slices and matmuls


def test_pong_xla_chunk_lowers_for_cuda(pong):
    from jaxrl.runners.atari import make_xla_chunk
    learner, env, state, ts = pong
    handle = env.xla()[0]
    ts = jax.tree_util.tree_map(jnp.asarray, ts)
    text = lower(make_xla_chunk(learner, env, 1, 4), handle, state, ts, 0, 0)
    targets = assert_gpu_clean(text)
    assert any(t.endswith("_send") for t in targets) and any(t.endswith("_recv") for t in targets), targets
    assert "stablehlo.convolution" in text
