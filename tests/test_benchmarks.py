"""The benchmark suite's arithmetic (no timings here: those live in benchmarks/)."""

import pytest

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


def test_trace_summary_by_hand():
    """Busy time is the union of a thread's intervals (nested events once; Python frames, which wrap the rest, not
    at all), ops are totals per (thread, name), Python frames listed apart, all per env step."""
    from benchmarks.trace import summarize
    meta = [{"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "/device:GPU:0"}},
            {"ph": "M", "name": "thread_name", "pid": 1, "tid": 7, "args": {"name": "stream 7"}},
            {"ph": "M", "name": "process_name", "pid": 2, "args": {"name": "/host:CPU"}},
            {"ph": "M", "name": "thread_name", "pid": 2, "tid": 3, "args": {"name": "python"}}]
    events = meta + [
        {"ph": "X", "pid": 1, "tid": 7, "name": "conv", "ts": 0, "dur": 10},
        {"ph": "X", "pid": 1, "tid": 7, "name": "conv", "ts": 20, "dur": 10},
        {"ph": "X", "pid": 1, "tid": 7, "name": "gemm", "ts": 25, "dur": 15},  # overlaps the second conv by 5
        {"ph": "X", "pid": 2, "tid": 3, "name": "$x.py:1 f", "ts": 0, "dur": 100},
        {"ph": "X", "pid": 2, "tid": 3, "name": "recv", "ts": 50, "dur": 30},  # inside the Python frame
        {"ph": "i", "pid": 2, "tid": 3, "name": "marker", "ts": 5}]
    s = summarize(events, env_steps=2)
    threads = {t["thread"]: t for t in s["threads"]}
    assert threads["stream 7"]["busy_us_per_env_step"] == 30 / 2 and threads["python"]["busy_us_per_env_step"] == 15
    assert threads["stream 7"]["process"] == "/device:GPU:0" and threads["stream 7"]["events_per_env_step"] == 1.5
    assert [(o["name"], o["us_per_env_step"], o["count_per_env_step"]) for o in s["ops"]] == [
        ("recv", 15, 0.5), ("conv", 10, 1), ("gemm", 7.5, 0.5)]
    assert [(o["name"], o["us_per_env_step"]) for o in s["python"]] == [("$x.py:1 f", 50)]


def test_trace_summary_clips_to_the_window():
    from benchmarks.trace import summarize
    events = [{"ph": "X", "pid": 1, "tid": 1, "name": "timed", "ts": 10, "dur": 20},
              {"ph": "X", "pid": 1, "tid": 2, "name": "op", "ts": 0, "dur": 15},  # 5 inside
              {"ph": "X", "pid": 1, "tid": 2, "name": "op", "ts": 40, "dur": 5}]  # outside
    s = summarize(events, env_steps=1, window="timed")
    assert {t["thread"]: t["busy_us_per_env_step"] for t in s["threads"]} == {"2": 5}  # the window itself: not
    assert [(o["name"], o["count_per_env_step"]) for o in s["ops"]] == [("op", 1)]
    with pytest.raises(RuntimeError, match="no event"):
        summarize(events, 1, window="missing")


def test_variant_scores_take_greedy_evaluations_when_there():
    from benchmarks.variants import scores
    per_seed = [{"final_mean_return": 9.0, "best_mean_return": 12.0}, {"final_mean_return": 3.0}]
    assert scores({"per_seed": per_seed}) == {"final_mean_return": [9.0, 3.0], "best_mean_return": [12.0, None]}
    greedy = {"per_seed_last": [500.0, 111.3], "per_seed_best": [500.0, 479.2]}
    out = scores({"per_seed": per_seed, "greedy_eval": greedy})
    assert out["greedy_final"] == [500.0, 111.3] and out["greedy_best"] == [500.0, 479.2]
