"""jaxrl.replay.sampler vs torch_reference.sampler on the same stream of vectorized transitions (terminations and
truncations, several wraps of the ring): the same priorities after every add and reprioritization, and the same
n-step batches (returns, discounts, observations, importance weights) for the same slots."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.types import Transition
from jaxrl.replay import sumtree as jper
from jaxrl.replay.ring import make_buffer
from jaxrl.replay.sampler import make_replay
from parity_tests.common import rel_err
from torch_reference.ring import make_buffer as torch_buffer
from torch_reference.sampler import make_replay as torch_replay


def stream(num_envs, steps, rng):
    for t in range(steps):
        term = rng.random(num_envs) < 0.15
        trunc = ~term & (rng.random(num_envs) < 0.1)
        yield dict(obs=rng.normal(size=(num_envs, 3)).astype(np.float32), action=rng.integers(0, 4, num_envs).astype(np.int32),
                   reward=rng.normal(size=num_envs).astype(np.float32),
                   next_obs=rng.normal(size=(num_envs, 3)).astype(np.float32), terminated=term, truncated=trunc)


@pytest.mark.parametrize("num_envs,n", [(1, 3), (3, 3), (2, 1)])
def test_priorities_and_n_step_batches_agree(num_envs, n, record_max):
    capacity, gamma, alpha = 8 * num_envs, 0.9, 0.6
    example = Transition(np.zeros(3, np.float32), np.int32(0), np.float32(0), np.zeros(3, np.float32), False, False)
    jbuf = make_buffer(capacity, example, sample_batch_size=16)
    jsam = make_replay(jbuf, num_envs=num_envs, n_step=n, gamma=gamma, prioritized=True, per_alpha=alpha)
    tbuf = torch_buffer(capacity, {"obs": np.zeros(3, np.float32), "action": np.int32(0), "reward": np.float32(0),
                                   "next_obs": np.zeros(3, np.float32), "terminated": False, "truncated": False})
    tsam = torch_replay(tbuf, num_envs=num_envs, n_step=n, gamma=gamma, prioritized=True, per_alpha=alpha)
    jreplay = jsam.init()
    rng = np.random.default_rng(num_envs * 10 + n)
    for t, step in enumerate(stream(num_envs, 30, rng)):
        jreplay = jsam.add(jreplay, Transition(**{k: jnp.asarray(v) for k, v in step.items()}))
        tsam.add(step)
        prios = jreplay.priorities
        np.testing.assert_allclose(np.asarray(jper.leaf_values(prios, capacity)), tsam.tree.nodes[capacity:],
                                   rtol=1e-6, atol=0)
        if float(jper.total(prios)) > 0:
            batch, slots = jsam.sample(jreplay, jax.random.PRNGKey(t), 0.4)
            errors = rng.normal(size=16).astype(np.float32)
            unique, first = np.unique(np.asarray(slots), return_index=True)  # one new priority per slot
            jreplay = jsam.set_priorities(jreplay, jnp.asarray(unique), jnp.asarray(errors[first]), jnp.bool_(True))
            tsam.set_priorities(unique, errors[first])
            prios = jreplay.priorities
            tb = tsam.gather(np.asarray(slots))
            for name in ("reward", "obs", "next_obs", "action") + (("discount",) if n > 1 else ()):
                err = rel_err(np.asarray(getattr(batch, name)), np.asarray(tb[name], np.float32))
                record_max("sampler n-step batch", err)
                assert err <= 1e-6, name
    # importance weights from each side's own tree, for the same slots
    slots = np.arange(capacity)
    jp = np.asarray(jper.get_values(prios, jnp.asarray(slots))) / float(jper.total(prios))
    tp = tsam.tree.get_values(slots) / tsam.tree.total()
    live = jp > 0
    count = int(np.asarray(jbuf.window_starts(jreplay.buffer, n, num_envs)).sum())
    assert count == int(tsam.starts().sum())
    np.testing.assert_allclose(jper.importance_weights(jnp.asarray(jp[live]), count, 0.4),
                               tsam_weights(tp[live], count), rtol=1e-5)


def tsam_weights(p, count):
    from torch_reference.sumtree import importance_weights
    return importance_weights(p, count, 0.4)
