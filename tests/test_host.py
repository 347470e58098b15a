"""The host layer's shared pieces: the one progress display and the one metrics.csv writer."""

import io

import numpy as np

from jaxrl.host import progress
from jaxrl.host.metrics import METRICS_COLUMNS, append_episodes, read_episodes, start_metrics, write_episodes


def test_progress_prints_plain_lines_off_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_EVERY", 0.0)
    out = io.StringIO()  # not a terminal
    with progress.ProgressBar(1000, enabled=True, stream=out) as bar:
        bar.update(np.array([100, 250]))  # per-seed values from a callback: the furthest counts
        bar.update(200, "mean return 9.5")  # never backwards
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("training: 250/1,000 env steps/seed (25%)")
    assert lines[1].startswith("training: 250/1,000") and lines[1].endswith("mean return 9.5")
    assert len(lines) == 3  # and a closing line


def test_progress_disabled_prints_nothing(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_EVERY", 0.0)
    out = io.StringIO()
    with progress.ProgressBar(10, enabled=False, stream=out) as bar:
        bar(5)
    assert out.getvalue() == ""


def test_metrics_round_trip_sorted_by_seed_then_step(tmp_path):
    path = tmp_path / "metrics.csv"
    start_metrics(path)
    append_episodes(path, {"seed": [1, 0], "step": [40, 30], "return": [2.5, -1.0], "length": [4, 3]})
    append_episodes(path, {"seed": np.array([0]), "step": np.array([10]), "return": np.array([7.0], np.float32),
                           "length": np.array([1], np.int32)})
    assert path.read_text().splitlines()[0] == ",".join(METRICS_COLUMNS)
    got = read_episodes(path)
    np.testing.assert_array_equal(got["seed"], [0, 0, 1])
    np.testing.assert_array_equal(got["step"], [10, 30, 40])
    np.testing.assert_array_equal(got["return"], [7.0, -1.0, 2.5])
    write_episodes(path, {c: [] for c in METRICS_COLUMNS})
    assert len(read_episodes(path)["seed"]) == 0


def test_keep_freed_memory_sets_glibcs_thresholds(monkeypatch):
    import ctypes
    import sys

    from jaxrl.host.devices import keep_freed_memory
    calls, answer = [], [1]

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return answer[0]

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    assert keep_freed_memory()
    assert calls == [(-3, 1 << 30), (-1, 1 << 30)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD: 1 GiB
    answer[0] = 0  # glibc refused the value
    assert not keep_freed_memory()

    def no_glibc(name):
        raise OSError(name)

    monkeypatch.setattr(ctypes, "CDLL", no_glibc)
    assert not keep_freed_memory()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not keep_freed_memory()


def test_prepare_process_sets_memory_then_devices(monkeypatch):
    """The benchmarks' process setup is `jaxrl train`'s: freed memory kept, then the host split into devices."""
    from jaxrl.host import devices
    calls = []
    monkeypatch.setattr(devices, "keep_freed_memory", lambda: calls.append("memory") or False)
    monkeypatch.setattr(devices, "force_host_devices", lambda n: calls.append(("devices", n)))
    assert devices.prepare_process(4) == {"keep_freed_memory": False}
    assert calls == ["memory", ("devices", 4)]
