"""The GPU path, lowered for CUDA on this CPU-only machine (`lowering_platforms=("cuda",)`; no CUDA needed).

Each compiled program that a GPU run executes (the gymnax sweep, the Pong host-loop steps, the Pong XLA-loop
chunks) must lower for CUDA, and the lowered module must not hold anything that only runs on a CPU: a custom
call whose target names the CPU (`xla_ffi_python_cpu_callback` from a `jax.debug.callback` lowered for the
wrong platform, LAPACK, ducc FFT) or the CPU-only im2col convolution. The Pong programs must also hold no
data-dependent control flow: on a GPU each `while` condition and each `case` copies its predicate to the host
and waits for it, so every loop must count to a constant (a `scan`/`fori_loop`) and nothing may branch.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.config import get_preset
from jaxrl.agents.networks import conv_kernel
from jaxrl.replay.frames import search_method

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


WHILE = re.compile(r"stablehlo\.while\(([^\n]*)\) : [^\n]*\n\s*cond \{\n(.*?)\n\s*\} do \{", re.S)


def uncounted_loops(module_text: str) -> list[str]:
    """The condition blocks of `while` loops whose condition is not one of the loop's variables `< N`, an int32
    constant (the form `scan` and `fori_loop` lower to): loops whose trip count depends on data. (A loop that
    moved such a variable by data would pass; JAX's own counted loops add 1.)"""
    bad = []
    for header, cond in WHILE.findall(module_text):
        variables = "|".join(re.findall(r"(%iterArg\w*) =", header))
        compare = re.search(rf"stablehlo\.compare\s+LT, (?:{variables}), (%\w+), SIGNED", cond)
        if not (compare and re.search(rf"{compare.group(1)} = stablehlo\.constant dense<\d+> : tensor<i32>", cond)):
            bad.append(cond.strip())
    return bad


def assert_no_data_dependent_control_flow(text: str) -> int:
    """-> the number of (counted) loops."""
    assert not uncounted_loops(text), uncounted_loops(text)
    assert "stablehlo.case" not in text and "stablehlo.if" not in text
    return len(WHILE.findall(text))


def test_control_flow_checker_can_fail():
    counted = lower(jax.jit(lambda x: jax.lax.fori_loop(0, 4, lambda i, c: c * 2, x)), 1.0)
    assert assert_no_data_dependent_control_flow(counted) == 1
    data = lower(jax.jit(lambda x: jax.lax.while_loop(lambda c: c < 10.0, lambda c: c * 2, x)), 1.0)
    assert len(uncounted_loops(data)) == 1
    trips = lower(jax.jit(lambda n: jax.lax.while_loop(lambda c: c[0] < c[1], lambda c: (c[0] + 1, c[1]), (0, n))), 3)
    assert len(uncounted_loops(trips)) == 1
    branch = lower(jax.jit(lambda x: jax.lax.cond(x > 0, lambda: x, lambda: -x)), 1.0)
    with pytest.raises(AssertionError):
        assert_no_data_dependent_control_flow(branch)


def test_checker_finds_a_cpu_only_call():
    """The check can fail: a Cholesky factorization lowered for the CPU is a LAPACK custom call."""
    text = lower(jax.jit(jnp.linalg.cholesky), jnp.eye(3), platform="cpu")
    with pytest.raises(AssertionError, match="lapack"):
        assert_gpu_clean(text)


def test_kernels_per_backend():
    assert conv_kernel("cpu") == conv_kernel("cpu", 8) == "im2col"
    assert conv_kernel("gpu") == conv_kernel("cuda") == "xla"
    assert conv_kernel("cuda", 2) == conv_kernel("cuda", 16) == "im2col"  # no grouped convolution
    assert search_method("cpu") == "scan"
    assert search_method("gpu") == search_method("cuda") == "scan_unrolled"


def test_gymnax_sweep_program_lowers_for_cuda():
    """(Without the progress callback: a host callback needs the target's backend to lower, here absent.)"""
    from jaxrl.runners.gymnax import make_train
    cfg = get_preset("rainbow").replace(total_steps=2000, learning_starts=500, buffer_size=1000, num_seeds=2)
    text = lower(jax.jit(jax.vmap(make_train(cfg))), jax.random.split(jax.random.PRNGKey(0), 2))
    assert_gpu_clean(text)
    assert "stablehlo.while" in text


@pytest.fixture(scope="module")
def pong():
    """A tiny Pong learner (2 envs, 2 updates per block, a target copy due) and its env, seeds of 1."""
    from jaxrl.runners.atari import make_atari_learner, split_seeds
    from jaxrl.runners.learning import Schedule
    from jaxrl.envs.envpool_env import make_envpool, reset_step
    cfg = get_preset("pong").replace(num_envs=2, train_frequency=1, buffer_size=1000, learning_starts=100,
                                     total_steps=10_000, log_frequency=100, eval_frequency=0, checkpoint_frequency=0)
    learner = make_atari_learner(cfg.replace(conv=conv_kernel("cuda", 1), replay_search=search_method("cuda")), 6,
                                 (4, 84, 84))
    env = make_envpool(cfg.env_id, 2, 0)
    state = learner.init(jax.random.split(jax.random.PRNGKey(0), 1))
    ts = split_seeds(reset_step(env.reset()[0]), 1)
    yield learner, env, state, ts, Schedule(cfg)
    env.close()


def test_pong_host_steps_lower_for_cuda_without_data_dependent_control_flow(pong):
    """The three host-loop programs (act; act + updates; act + updates + target copy) and the overlap loop's
    updates: 2 updates per block written out, no branch and no loop at all (the sampler's binary search is
    unrolled on GPUs), cuDNN's convolution. Lowered with the CPU's search, the updates keep its loop."""
    from jaxrl.runners.atari_loops import HostSteps
    learner, _, state, ts, schedule = pong
    steps = HostSteps(learner)
    assert len(steps.jitted) == 5
    for name, program in steps.jitted.items():
        if name[0] == "step":
            text = lower(program, state, ts, np.int32(0))
            assert_gpu_clean(text)
            assert assert_no_data_dependent_control_flow(text) == 0
            assert "stablehlo.convolution" in text  # cuDNN's convolution, not im2col's slices and matmuls
        else:
            assert assert_no_data_dependent_control_flow(lower(program, state, np.int32(0))) == 0
    from jaxrl.runners.atari import make_atari_learner
    cpu_search = HostSteps(make_atari_learner(schedule.config.replace(replay_search="scan"), 6, (4, 84, 84)))
    assert assert_no_data_dependent_control_flow(lower(cpu_search.jitted["learn", False], state, np.int32(0))) >= 1


@pytest.mark.parametrize("start", [0, 50, 100])  # before learning, where it starts, learning
def test_pong_xla_chunk_lowers_for_cuda_with_counted_loops_only(pong, start):
    """Each chunk plan: env.xla()'s send/recv inside, every loop a scan of fixed length, no branch."""
    from jaxrl.runners.atari_loops import make_xla_chunk
    learner, env, state, ts, schedule = pong
    handle = env.xla()[0]
    ts = jax.tree_util.tree_map(jnp.asarray, ts)
    plan = schedule.plan(start, 50)
    assert plan == {0: (50, 0), 50: (1, 49), 100: (0, 50)}[start]
    text = lower(make_xla_chunk(learner, env, schedule, *plan), handle, state, ts, start)
    targets = assert_gpu_clean(text)
    assert any(t.endswith("_send") for t in targets) and any(t.endswith("_recv") for t in targets), targets
    assert "stablehlo.convolution" in text
    assert assert_no_data_dependent_control_flow(text) >= 1


def barrier_pinned_order(text: str) -> bool:
    """The overlapped update iteration's wiring: the send's handle and the learner's state pass one optimization
    barrier, a convolution (the updates) follows, and the recv takes its handle from a second barrier that also
    carries the updated state (as many values: the frame buffer among them). (XLA's GPU compiler expands
    barriers only after scheduling, keeping the order they imposed; its CPU compiler expands them before, so
    there the order is its scheduler's.)"""
    send = re.search(r"(%\w+) = stablehlo\.custom_call @\w+_send\(", text)
    first = send and re.search(rf"(%\w+):(\d+) = stablehlo\.optimization_barrier {send.group(1)}, %[^\n]*", text)
    second = first and re.search(rf"(%\w+):(\d+) = stablehlo\.optimization_barrier {first.group(1)}#0, %[^\n]*",
                                 text)
    recv = second and re.search(rf"stablehlo\.custom_call @\w+_recv\({second.group(1)}#0\)", text)
    return (bool(recv) and "stablehlo.convolution" in text[first.end():second.start()]
            and int(second.group(2)) > int(first.group(2)) > 20 and "xui8>" in first.group(0))


def test_pong_overlapped_xla_chunk_pins_send_update_recv(pong):
    """`--overlap` in the XLA loop (the learning plan): send, updates, recv in that order, all loops counted;
    the lock-step chunk fails the check."""
    from jaxrl.runners.atari_loops import make_xla_chunk
    from jaxrl.runners.learning import Schedule
    learner, env, state, ts, schedule = pong
    handle = env.xla()[0]
    ts = jax.tree_util.tree_map(jnp.asarray, ts)
    schedules = {overlap: Schedule(schedule.config.replace(overlap=overlap)) for overlap in (False, True)}
    texts = {overlap: lower(make_xla_chunk(learner, env, s, *s.plan(100, 50)), handle, state, ts, 100)
             for overlap, s in schedules.items()}
    assert barrier_pinned_order(texts[True]) and not barrier_pinned_order(texts[False])
    assert_gpu_clean(texts[True])
    assert assert_no_data_dependent_control_flow(texts[True]) >= 1


def test_replay_buffer_is_not_copied_in_the_xla_chunk():
    """Compiled here (CPU) with `compiler_options()`, the XLA-loop chunk never copies the frame buffer, lock-step
    or overlapped (`python -m benchmarks --only buffer_copies` counts them with and without the options, also on
    a GPU in `python -m benchmarks.gpu`). The count is read from the compiled HLO, where a copy would show."""
    from benchmarks.pong import buffer_copies
    counts = buffer_copies(variants=("with",))
    assert [m.params["overlap"] for m in counts] == [False, True]
    assert all(m.value == 0 and m.params["options"] == "with compiler_options()" for m in counts)
