"""Weight conversion, and targets / losses / gradients for every network x head x target x loss variant."""

import copy
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxrl.agents.losses as jl
import torch_reference.losses as tl
from jaxrl.config import DQNConfig
from parity_tests.common import (build_pair, flax_tree_in_torch_layout, rel_err, random_batch, to_jax, to_torch,
                                 torch_params)
from parity_tests.convert import flax_to_torch, nhwc_to_nchw, torch_to_flax

TOL = {"mlp": 1e-6, "cnn": 1e-5}
VARIANTS = list(itertools.product(["mlp", "cnn"], [False, True], [False, True], ["huber", "mse"]))


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("dueling", [False, True])
def test_weight_conversion_both_ways(kind, dueling):
    cfg = DQNConfig(network=kind, dueling=dueling)
    jagent, params, _, tagent = build_pair(cfg, seed=3)
    rng = np.random.default_rng(0)
    obs = random_batch(kind, 5, rng)["obs"]
    q_jax = np.asarray(jagent.network.apply(params, jnp.asarray(obs)).q_values)
    with torch.no_grad():
        q_torch = tagent.network(torch.as_tensor(nhwc_to_nchw(obs) if kind == "cnn" else obs)).q_values.numpy()
    assert rel_err(q_torch, q_jax) <= TOL[kind]
    back = torch_to_flax(tagent.network)  # torch -> flax is the exact inverse
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(params)):
        np.testing.assert_array_equal(a, b)
    # and torch -> flax -> torch of a torch-initialised net
    fresh = copy.deepcopy(tagent.network)
    torch.manual_seed(7)
    for p in fresh.parameters():
        torch.nn.init.normal_(p)
    before = torch_params(fresh)
    flax_to_torch(torch_to_flax(fresh), fresh)
    for k, v in torch_params(fresh).items():
        np.testing.assert_array_equal(v, before[k])


def test_cnn_flatten_order_matters():
    """A naive conversion that ignores NHWC vs NCHW flattening gives different Q-values: the permutation
    in `convert` is needed."""
    cfg = DQNConfig(network="cnn")
    jagent, params, _, tagent = build_pair(cfg, seed=1)
    w = tagent.network.head.layers["q_hidden_0"].weight
    with torch.no_grad():
        w.copy_(torch.as_tensor(np.asarray(params["params"]["head"]["q_hidden_0"]["kernel"]).T))
    obs = random_batch("cnn", 3, np.random.default_rng(0))["obs"]
    q_jax = np.asarray(jagent.network.apply(params, jnp.asarray(obs)).q_values)
    with torch.no_grad():
        q_torch = tagent.network(torch.as_tensor(nhwc_to_nchw(obs))).q_values.numpy()
    assert rel_err(q_torch, q_jax) > 1e-2


def _both_sides(cfg, seed, batch_size=8):
    kind = cfg.network
    jagent, params, target_params, tagent = build_pair(cfg, seed)
    batch = random_batch(kind, batch_size, np.random.default_rng(seed))
    jb, tb = to_jax(batch), to_torch(batch, kind)
    # targets from each side's public functions on each side's network outputs
    q_t_target = jagent.network.apply(target_params, jb.next_obs).q_values
    q_t_online = jagent.network.apply(params, jb.next_obs).q_values
    discount = cfg.gamma * (1.0 - jb.terminated.astype(jnp.float32))
    if cfg.double_dqn:
        j_targets = jl.double_q_learning_targets(jb.reward, discount, q_t_target, q_t_online)
    else:
        j_targets = jl.q_learning_targets(jb.reward, discount, q_t_target)
    with torch.no_grad():
        nt = torch.as_tensor(tb["next_obs"])
        t_reward = torch.as_tensor(tb["reward"])
        t_discount = cfg.gamma * (1.0 - torch.as_tensor(tb["terminated"]).float())
        if cfg.double_dqn:
            t_targets = tl.double_q_learning_targets(t_reward, t_discount, tagent.target_network(nt).q_values,
                                                     tagent.network(nt).q_values).numpy()
        else:
            t_targets = tl.q_learning_targets(t_reward, t_discount, tagent.target_network(nt).q_values).numpy()
    (j_loss, _), j_grads = jax.value_and_grad(jagent.loss_fn, has_aux=True)(params, target_params, jb)
    t_loss = tagent.compute_loss(tb)
    tagent.network.zero_grad()
    t_loss.backward()
    t_grads = {k: p.grad.numpy() for k, p in tagent.network.named_parameters()}
    j_grads = flax_tree_in_torch_layout(j_grads, tagent.network)
    return (np.asarray(j_targets), t_targets), (float(j_loss), t_loss.item()), (j_grads, t_grads)


@pytest.mark.parametrize("kind,dueling,double,loss", VARIANTS,
                         ids=[f"{k}-{'duel' if d else 'plain'}-{'double' if db else 'vanilla'}-{ls}"
                              for k, d, db, ls in VARIANTS])
def test_targets_loss_gradients_agree(kind, dueling, double, loss, record_max):
    cfg = DQNConfig(network=kind, dueling=dueling, double_dqn=double, loss=loss)
    for seed in range(3 if kind == "mlp" else 2):
        (jt, tt), (jl_, tl_), (jg, tg) = _both_sides(cfg, seed)
        assert set(jg) == set(tg)
        names = sorted(tg)
        errs = {"targets": rel_err(jt, tt), "loss": rel_err(jl_, tl_),
                # normwise over the whole gradient vector: max |dg| / max |g|
                "grads": rel_err(np.concatenate([jg[n].ravel() for n in names]),
                                 np.concatenate([tg[n].ravel() for n in names]))}
        for what, e in errs.items():
            record_max(f"{kind} {what}", e)
            assert e <= TOL[kind], (what, e)
        # each tensor on its own scale too; a cancellation-heavy scalar (e.g. the dueling value bias,
        # a batch sum of +-terms) may lose a few more fp32 bits to summation order
        per_tensor = max(rel_err(jg[n], tg[n]) for n in names)
        record_max(f"{kind} grads per tensor", per_tensor)
        assert per_tensor <= 10 * TOL[kind], per_tensor


def test_flipped_double_flag_is_detected():
    """A deliberately wrong torch variant (double flag flipped) must fail the comparison."""
    cfg = DQNConfig(network="mlp", double_dqn=True)
    jagent, params, target_params, tagent = build_pair(cfg, seed=0)
    tagent.config = cfg.replace(double_dqn=False)
    batch = random_batch("mlp", 64, np.random.default_rng(0))
    j_loss, _ = jagent.loss_fn(params, target_params, to_jax(batch))
    t_loss = tagent.compute_loss(to_torch(batch, "mlp")).item()
    assert rel_err(t_loss, float(j_loss)) > 100 * TOL["mlp"]
