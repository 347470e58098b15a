"""The benchmark suite's arithmetic (no timings here: those live in benchmarks/)."""

from benchmarks.report import ratios
from benchmarks.suite import forward_macs, update_flops
from jaxrl.config import DQNConfig, get_preset


def test_nature_cnn_macs_by_hand():
    conv = 20 * 20 * 32 * (8 * 8 * 4) + 9 * 9 * 64 * (4 * 4 * 32) + 7 * 7 * 64 * (3 * 3 * 64)
    dense = 3136 * 512 + 512 * 6
    assert forward_macs(get_preset("pong"), (84, 84, 4), 6) == conv + dense == 9_346_048
    duel = conv + 2 * 3136 * 512 + 512 * 1 + 512 * 6
    assert forward_macs(get_preset("pong").replace(dueling=True), (84, 84, 4), 6) == duel


def test_mlp_macs_and_update_flops():
    cfg = DQNConfig(hidden_sizes=(64, 64), batch_size=128, double_dqn=True)
    macs = 4 * 64 + 64 * 64 + 64 * 2
    assert forward_macs(cfg, (4,), 2) == macs
    # 3 forwards (online s, target s', online s') + backward ~ 2 forwards, 2 FLOPs per MAC
    assert update_flops(cfg, macs) == 2 * 128 * macs * 5
    assert update_flops(cfg.replace(double_dqn=False), macs) == 2 * 128 * macs * 4


def test_ratios_pair_jaxrl_with_torch():
    m = lambda impl, value, **p: {"name": "update", "impl": impl, "params": p, "value": value}  # noqa: E731
    doc = {"measurements": [m("jaxrl", 30.0, net="cnn", batch=32), m("torch", 20.0, net="cnn", batch=32),
                            m("torch", 1.0, net="mlp", batch=32)]}
    assert ratios(doc) == [("update", "net=cnn, batch=32", 1.5)]
