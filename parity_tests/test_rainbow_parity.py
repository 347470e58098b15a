"""n-step targets, C51 projection / loss / gradients, and PER priorities and weights: jaxrl vs torch_reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxrl.agents.losses as jl
import torch_reference.losses as tl
import torch_reference.sumtree as tper
from jaxrl.replay import sumtree as jper
from jaxrl.config import DQNConfig
from parity_tests.common import rel_err


@pytest.mark.parametrize("n", [1, 3, 5])
def test_n_step_targets_agree(n, record_max):
    rng = np.random.default_rng(n)
    r = rng.normal(size=(256, n)).astype(np.float32)
    term, trunc = rng.random((256, n)) < 0.15, rng.random((256, n)) < 0.05
    jr, jd, jlast = jl.n_step_targets(jnp.asarray(r), jnp.asarray(term), jnp.asarray(trunc), 0.97)
    tr_, td, tlast = tl.n_step_targets(torch.as_tensor(r), torch.as_tensor(term), torch.as_tensor(trunc), 0.97)
    record_max("n-step returns", rel_err(jr, tr_.numpy()))
    assert rel_err(jr, tr_.numpy()) <= 1e-6 and rel_err(jd, td.numpy()) <= 1e-6
    np.testing.assert_array_equal(np.asarray(jlast), tlast.numpy())


@pytest.mark.parametrize("seed", range(3))
def test_c51_projection_loss_and_gradients_agree(seed, record_max):
    rng = np.random.default_rng(seed)
    z = np.linspace(-10, 10, 51).astype(np.float32)
    probs = rng.dirichlet(np.ones(51), size=64).astype(np.float32)
    r = (rng.normal(size=64) * 3).astype(np.float32)
    r[:4] = [0.0, 1.0, -10.0, 30.0]  # exactly on atoms, on v_min, far beyond v_max
    discount = (rng.random(64) * (rng.random(64) < 0.8)).astype(np.float32)
    jp = jl.categorical_projection(jnp.asarray(z), jnp.asarray(probs), jnp.asarray(r), jnp.asarray(discount))
    tp = tl.categorical_projection(torch.as_tensor(z), torch.as_tensor(probs), torch.as_tensor(r),
                                   torch.as_tensor(discount))
    record_max("c51 projection", rel_err(jp, tp.numpy()))
    assert rel_err(jp, tp.numpy()) <= 1e-5
    # loss and gradients on the same target (the projections' own float32 differences are checked above)
    target = tp.numpy()
    logits = rng.normal(size=(64, 4, 51)).astype(np.float32)
    actions = rng.integers(0, 4, 64)
    weights = rng.random(64).astype(np.float32)
    (jloss, _), jgrad = jax.value_and_grad(
        lambda lg: jl.categorical_td_loss(lg, jnp.asarray(actions), jnp.asarray(target), weights=jnp.asarray(weights)),
        has_aux=True)(jnp.asarray(logits))
    tlogits = torch.as_tensor(logits).requires_grad_(True)
    tloss, _ = tl.categorical_td_loss(tlogits, torch.as_tensor(actions), torch.as_tensor(target),
                                      weights=torch.as_tensor(weights))
    tloss.backward()
    record_max("c51 loss", rel_err(float(jloss), tloss.item()))
    record_max("c51 gradients", rel_err(jgrad, tlogits.grad.numpy()))
    assert rel_err(float(jloss), tloss.item()) <= 1e-6 and rel_err(jgrad, tlogits.grad.numpy()) <= 1e-6


def test_per_priorities_and_weights_agree():
    rng = np.random.default_rng(0)
    capacity = 37  # not a power of two: jaxrl pads its tree, the reference does not
    jtree, ttree = jper.init(capacity), tper.SumTree(capacity)
    jtree = jper.add_new(jtree, jnp.arange(capacity))
    for i in range(capacity):
        ttree.set_values([i], [ttree.max_priority])
    for _ in range(20):
        idx = rng.integers(0, capacity, 8)
        idx = np.unique(idx)
        err = rng.normal(size=len(idx)).astype(np.float32) * 3
        jtree = jper.update_priorities(jtree, jnp.asarray(idx), jnp.asarray(err), alpha=0.6)
        ttree.update_priorities(idx, err, alpha=0.6)
    np.testing.assert_allclose(jper.leaf_values(jtree, capacity), ttree.nodes[capacity:], rtol=1e-5)
    np.testing.assert_allclose(float(jper.total(jtree)), ttree.total(), rtol=1e-5)
    jprobs = np.asarray(jper.leaf_values(jtree, capacity))[:10] / float(jper.total(jtree))
    tprobs = ttree.get_values(np.arange(10)) / ttree.total()  # each side from its own tree
    np.testing.assert_allclose(jper.importance_weights(jnp.asarray(jprobs), capacity, 0.4),
                               tper.importance_weights(tprobs, capacity, 0.4), rtol=1e-5)


def test_per_sampling_distributions_agree():
    """Both sum-trees sample slot i with probability p_i / sum p (chi-square against the priorities, each side
    40,000 draws), and neither samples a zero-priority slot."""
    from scipy.stats import chisquare
    rng = np.random.default_rng(1)
    capacity = 13
    values = rng.random(capacity).astype(np.float32) + 0.05
    values[[2, 7]] = 0.0
    jtree, ttree = jper.set_values(jper.init(capacity), jnp.arange(capacity), jnp.asarray(values)), tper.SumTree(capacity)
    ttree.set_values(np.arange(capacity), values)
    draws = 40_000
    keys = jax.random.split(jax.random.PRNGKey(0), 40)
    jidx = np.concatenate([np.asarray(jper.sample(jtree, k, draws // 40)[0]) for k in keys])
    tidx = np.concatenate([ttree.sample(draws // 40, rng)[0] for _ in range(40)])
    expected = values / values.sum() * draws
    live = values > 0
    for idx in (jidx, tidx):
        counts = np.bincount(idx, minlength=capacity)
        assert counts[~live].sum() == 0
        assert chisquare(counts[live], expected[live]).pvalue > 1e-3
    # and the two samples agree with each other (same distribution)
    jc, tc = np.bincount(jidx, minlength=capacity)[live], np.bincount(tidx, minlength=capacity)[live]
    assert chisquare(jc, tc * jc.sum() / tc.sum()).pvalue > 1e-3


@pytest.mark.parametrize("r,d", [(0.0, 1.0), (1.0, 1.0), (-3.0, 0.0), (2.0, 0.0)])
def test_projection_on_atoms_is_exact_in_both(r, d):
    """Targets that land exactly on atoms (b integral: the classic Algorithm-1 bug drops their mass, since
    floor(b) = ceil(b) gives both neighbours weight 0). Each library's own projection must move every atom's
    mass whole: r=0, d=1 is the identity; r=1 shifts by one atom (the top atom's mass piles on v_max); d=0 puts
    everything on the atom at r. A projection with the bug fails each case by a whole atom's mass."""
    z = np.linspace(-4.0, 4.0, 9).astype(np.float32)  # dz = 1: r and d*z land on atoms
    probs = np.random.default_rng(0).dirichlet(np.ones(9), size=3).astype(np.float32)
    target = np.clip(r + d * z, -4.0, 4.0)
    expected = np.zeros_like(probs)
    for i, t in enumerate(target):
        expected[:, int(round(t + 4.0))] += probs[:, i]
    rr, dd = np.full(3, r, np.float32), np.full(3, d, np.float32)
    jax_m = np.asarray(jl.categorical_projection(jnp.asarray(z), jnp.asarray(probs), jnp.asarray(rr), jnp.asarray(dd)))
    torch_m = tl.categorical_projection(torch.as_tensor(z), torch.as_tensor(probs), torch.as_tensor(rr),
                                        torch.as_tensor(dd)).numpy()
    np.testing.assert_allclose(jax_m, expected, atol=1e-6)
    np.testing.assert_allclose(torch_m, expected, atol=1e-6)


RAINBOW_VARIANTS = [(dist, duel, double) for dist in (False, True) for duel in (False, True) for double in (False, True)]


@pytest.mark.parametrize("distributional,dueling,double", RAINBOW_VARIANTS,
                         ids=[f"{'c51' if a else 'scalar'}-{'duel' if b else 'plain'}-{'double' if c else 'vanilla'}"
                              for a, b, c in RAINBOW_VARIANTS])
def test_rainbow_loss_gradients_priorities_agree(distributional, dueling, double, record_max):
    """The trainer's loss on an n-step, importance-weighted batch (what the Rainbow replay hands it), from
    each side's own network, C51 head, projection and loss: loss, priorities and gradients agree."""
    from parity_tests.common import build_pair, flax_tree_in_torch_layout, random_batch, rel_err, to_jax, to_torch
    cfg = DQNConfig(network="mlp", dueling=dueling, double_dqn=double, distributional=distributional,
                    v_min=-5.0, v_max=5.0, num_atoms=21)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        batch = random_batch("mlp", 16, rng)
        batch["discount"] = (0.99 ** rng.integers(1, 4, 16) * (1 - batch["terminated"])).astype(np.float32)
        batch["weight"] = rng.uniform(0.1, 1.0, 16).astype(np.float32)
        jagent, params, target_params, tagent = build_pair(cfg, seed)
        jb = to_jax(batch)._replace(discount=jnp.asarray(batch["discount"]), weight=jnp.asarray(batch["weight"]))
        (j_loss, aux), j_grads = jax.value_and_grad(jagent.loss_fn, has_aux=True)(params, target_params, jb)
        t_loss, t_priority = tagent.compute_loss(to_torch(batch, "mlp"), return_priorities=True)
        tagent.network.zero_grad()
        t_loss.backward()
        t_grads = {k: p.grad.numpy() for k, p in tagent.network.named_parameters()}
        j_grads = flax_tree_in_torch_layout(j_grads, tagent.network)
        names = sorted(t_grads)
        errs = {"loss": rel_err(float(j_loss), t_loss.item()),
                "priorities": rel_err(np.asarray(aux["priority"]), t_priority.numpy()),
                "grads": rel_err(np.concatenate([j_grads[n].ravel() for n in names]),
                                 np.concatenate([t_grads[n].ravel() for n in names]))}
        for what, e in errs.items():
            record_max(f"rainbow {what}", e)
            assert e <= 1e-5, (what, e)


def test_projection_agrees_over_random_supports(record_max):
    """Both projections on 60 random supports (any v_min < v_max, 3..101 atoms) with rewards that clip at either
    end, plus the support where float32 put `b` past the last atom (v_min 0, v_max 7, 24 atoms, r = v_max):
    no index error, rows keep their mass, and the two frameworks agree."""
    rng = np.random.default_rng(3)
    supports = [(0.0, 7.0, 24)] + [(lo, lo + rng.uniform(0.5, 400.0), int(rng.integers(3, 102)))
                                   for lo in rng.uniform(-200.0, 100.0, 60)]
    worst = 0.0
    projection = jax.jit(jl.categorical_projection)  # one program per atom count, not one per primitive and shape
    for v_min, v_max, n in supports:
        z = np.linspace(v_min, v_max, n, dtype=np.float32)
        probs = rng.dirichlet(np.ones(n), size=16).astype(np.float32)
        r = np.concatenate([[v_max, v_min, v_max * 10], rng.uniform(v_min, v_max, 13)]).astype(np.float32)
        discount = rng.choice([0.0, 0.5, 0.99, 1.0], size=16).astype(np.float32)
        jp = np.asarray(projection(jnp.asarray(z), jnp.asarray(probs), jnp.asarray(r), jnp.asarray(discount)))
        tp = tl.categorical_projection(torch.as_tensor(z), torch.as_tensor(probs), torch.as_tensor(r),
                                       torch.as_tensor(discount)).numpy()
        # float32: each weight is exact to about eps * (the magnitude of b = (Tz - v_min) / dz, or of z / dz)
        dz = (v_max - v_min) / (n - 1)
        tol = 1e-6 + 8 * np.finfo(np.float32).eps * max(n, max(abs(v_min), abs(v_max)) / dz)
        np.testing.assert_allclose(tp.sum(-1), 1.0, atol=tol)
        np.testing.assert_allclose(jp.sum(-1), 1.0, atol=tol)
        np.testing.assert_allclose(jp, tp, atol=tol)
        worst = max(worst, float(np.abs(jp - tp).max()))
    record_max("c51 projection (random supports)", worst)
