"""Faults outside the command line: Ctrl-C on the default run path (mid-run and while compiling), a full disk,
run directories claimed once, damaged files given to `load_policy`, and non-finite metrics logged once."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jaxrl.cli import main
from jaxrl.host import rundir

ROOT = Path(__file__).resolve().parents[1]
# The default path (no --checkpoint-frequency), in chunks of 1,000 env steps.
RUN = ["--preset", "cartpole-course", "--num-seeds", "2", "--total-steps", "20000", "--learning-starts", "1000",
       "--buffer-size", "5000", "--log-frequency", "1000", "--no-progress", "--cpu-devices", "1"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "400"}  # rich wraps at 80 columns off a terminal


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "run"
    assert main(["train", *RUN, "--out-dir", str(out)]) == 0
    assert not (out / "checkpoint.msgpack").exists()  # the default path writes no checkpoint when not stopped
    return out


def _train(out: Path, *extra, **kw):
    return subprocess.Popen([sys.executable, "-m", "jaxrl.cli", "train", *RUN, *extra, "--out-dir", str(out)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _train_claimed(out: Path):
    """A training process, returned once it has claimed its run directory (it is then compiling)."""
    proc = _train(out)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "config.json").is_file():
        time.sleep(0.01)
    return proc


def _finish_and_compare(out: Path, uninterrupted: Path):
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert (out / "params.msgpack").read_bytes() == (uninterrupted / "params.msgpack").read_bytes()
    assert (out / "metrics.csv").read_text() == (uninterrupted / "metrics.csv").read_text()


def test_sigint_mid_run_on_the_default_path(uninterrupted, tmp_path):
    """Ctrl-C while the compiled program runs: the chunk ends within seconds, a checkpoint is written, one
    line, exit 130; --resume finishes the run bit-identically to an uninterrupted one."""
    out = tmp_path / "run"
    proc = _train(out)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "metrics.csv").is_file() and len((out / "metrics.csv").read_text().splitlines()) > 60:
            break
        time.sleep(0.05)
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert time.time() - sent < 20
    assert "SIGINT: stopping at the end of this chunk" in output and "resume with `jaxrl train --resume" in output
    assert "Traceback" not in output
    from jaxrl.host.checkpoint import read_meta
    assert 1000 <= read_meta(out / "checkpoint.msgpack")["env_steps"] < 20000
    _finish_and_compare(out, uninterrupted)


def test_sigint_while_compiling_leaves_a_resumable_run(uninterrupted, tmp_path):
    """Ctrl-C before the first chunk ran (during the compile): the run is resumable, not a directory that can
    be neither re-run nor resumed."""
    out = tmp_path / "run"
    proc = _train_claimed(out)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=240)
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    _finish_and_compare(out, uninterrupted)


def test_second_sigint_stops_at_once(tmp_path):
    """A second Ctrl-C exits at once, with one line, leaving a directory that can be re-run or resumed."""
    out = tmp_path / "run"
    proc = _train_claimed(out)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=240)
    assert proc.returncode == 130, output
    assert "Traceback" not in output and "stopped at once" in output.splitlines()[-1]
    if "released" in output:  # stopped before the first checkpoint: the same command can start over
        assert not (out / "config.json").exists()
        rundir.claim_run_dir(out, "x", {})
    else:  # stopped after it: resumable
        assert "--resume" in output and (out / "checkpoint.msgpack").is_file()


def test_full_disk_ends_with_one_line_not_a_hang(tmp_path):
    """A file-size limit makes writes fail like a full disk (EFBIG): the run ends with one line, exit 1."""
    out = tmp_path / "run"
    cmd = " ".join([sys.executable, "-m", "jaxrl.cli", "train", *RUN, "--out-dir", str(out)])
    proc = subprocess.run(["bash", "-c", f"ulimit -f 20; trap '' XFSZ; exec {cmd}"], env=ENV, capture_output=True,
                          text=True, timeout=240)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("jaxrl: error: writing the run's files failed") and "File too large" in last, output
    assert "Traceback" not in output


def test_run_directory_is_claimed_once(tmp_path, monkeypatch):
    content = {"preset": "x"}
    claimed = rundir.claim_run_dir(tmp_path / "a", "x", content)
    assert json.loads((claimed / "config.json").read_text()) == content
    with pytest.raises(rundir.RunDirTaken, match="already holds a run"):
        rundir.claim_run_dir(tmp_path / "a", "x", content)
    # Two default names in the same second: the second run gets its own directory.
    monkeypatch.chdir(tmp_path)
    from jaxrl.host import claim
    monkeypatch.setattr(claim.time, "strftime", lambda fmt: "20260101-000000")
    first, second = (rundir.claim_run_dir(None, "cartpole", content) for _ in range(2))
    assert first != second and second.name == "cartpole-20260101-000000-2"


def test_printed_commands_quote_paths_with_spaces(tmp_path):
    """The `--resume DIR` hints are shell words: a directory with a space in its name is quoted."""
    from jaxrl.host.train_run import stopped_at_once
    spaced = tmp_path / "my runs" / "a"
    rundir.claim_run_dir(spaced, "x", {})
    with pytest.raises(rundir.RunDirTaken, match=f"--resume '{spaced}'"):
        rundir.claim_run_dir(spaced, "x", {})
    (spaced / "checkpoint.msgpack").write_bytes(b"")
    assert f"--resume '{spaced}'" in stopped_at_once(spaced)


def test_tabular_refuses_a_dqn_run_directory(uninterrupted, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in uninterrupted.iterdir()}
    assert main(["tabular", "--out-dir", str(uninterrupted), "--num-seeds", "1"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in uninterrupted.iterdir()} == before


@pytest.mark.parametrize("damage,expected", [
    ("params_garbage", "damaged or not this run's parameters"),
    ("params_missing", "no parameters there"),
    ("config_garbage", "config.json: damaged \\(not valid JSON"),
    ("config_no_env", "its \"env\" entry is damaged"),
])
def test_load_policy_names_the_damaged_file(uninterrupted, tmp_path, damage, expected):
    import shutil

    from jaxrl import load_policy
    run = tmp_path / "copy"
    shutil.copytree(uninterrupted, run)
    if damage == "params_garbage":
        (run / "params.msgpack").write_bytes(b"\x93garbage")
    elif damage == "params_missing":
        (run / "params.msgpack").unlink()
    elif damage == "config_garbage":
        (run / "config.json").write_text("{not json")
    else:
        meta = json.loads((run / "config.json").read_text())
        del meta["env"]
        (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises((ValueError, FileNotFoundError), match=expected) as e:
        load_policy(run)
    assert str(run) in str(e.value)


def test_diverged_run_logs_once_per_seed(tmp_path, capsys):
    """A run whose every update is non-finite: a line per seed, no per-value warnings (TensorBoard's writer
    used to print one per NaN scalar)."""
    out = tmp_path / "nan"
    rc = main(["train", "--preset", "cartpole-course", "--num-seeds", "2", "--total-steps", "6000", "--learning-starts",
               "500", "--buffer-size", "1000", "--learning-rate", "1e38", "--no-clip-error", "--no-progress",
               "--log-frequency", "500", "--out-dir", str(out)])
    err = capsys.readouterr().err
    assert rc == 3
    assert err.count("its updates stopped there") == 2 and "NaN or Inf" not in err
    assert len(err.splitlines()) < 10


def test_tensorboard_scalars_round_trip_without_a_thread(tmp_path):
    import threading

    from jaxrl.host.tensorboard import Scalars, read_scalars
    threads = threading.active_count()
    with Scalars(tmp_path) as tb:
        assert threading.active_count() == threads
        for step, value in enumerate([0.5, float("nan"), 2.0]):
            tb.add("a/b", value, step)
    got = read_scalars(tmp_path)["a/b"]
    assert [s for s, _ in got] == [0, 1, 2] and got[0][1] == 0.5 and np.isnan(got[1][1]) and got[2][1] == 2.0


def test_chunked_run_sharded_over_two_devices(tmp_path):
    """Several chunks of a sweep laid out over 2 devices (in a fresh process: the device count is fixed when JAX
    starts): every chunk keeps the state's sharding (the compiled chunk program must accept its own output)."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "--preset", "cartpole-course",
                           "--num-seeds", "4", "--total-steps", "5000", "--learning-starts", "1000",
                           "--buffer-size", "2000", "--log-frequency", "1000", "--no-progress", "--cpu-devices", "2",
                           "--out-dir", str(out)],
                          env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "devices=2" in proc.stderr
    assert json.loads((out / "summary.json").read_text())["num_seeds"] == 4


def test_load_policy_refuses_a_non_integer_index(uninterrupted):
    from jaxrl import load_policy
    for index in ("1", 1.5, True):
        with pytest.raises(ValueError, match="expected an integer"):
            load_policy(uninterrupted, index)


# ------------------------------------------------------------------------------------- signals under launch
LONG = ["--preset", "cartpole-course", "--num-seeds", "2", "--total-steps", "400000", "--learning-starts", "1000",
        "--buffer-size", "2000", "--log-frequency", "1000", "--no-progress"]


def _launch(out: Path, **popen):
    """`jaxrl launch --processes 2` of a long sweep, returned with its two workers' pids once the first chunk
    is logged (both are then training)."""
    launcher = subprocess.Popen([sys.executable, "-m", "jaxrl.cli", "launch", "--processes", "2", "--", "train",
                                 *LONG, "--out-dir", str(out)], env=ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, **popen)
    deadline = time.time() + 240
    while time.time() < deadline and launcher.poll() is None:
        if (out / "metrics.csv").is_file() and len((out / "metrics.csv").read_text().splitlines()) > 3:
            break
        time.sleep(0.1)
    from tests.test_multiprocess import _children
    return launcher, _children(launcher.pid)


def _alive(pid: int) -> bool:
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def test_sigterm_to_the_launcher_checkpoints_every_worker(tmp_path):
    """`jax.distributed.initialize` installs JAX's preemption notifier on SIGTERM; the workers take SIGTERM back,
    so a SIGTERM to the launcher (SLURM's first step) stops the sweep at a chunk end with a checkpoint, exit 130."""
    out = tmp_path / "run"
    launcher, workers = _launch(out)
    assert launcher.poll() is None and len(workers) == 2
    launcher.send_signal(signal.SIGTERM)
    output, _ = launcher.communicate(timeout=120)
    assert launcher.returncode == 130, output[-3000:]
    assert "SIGTERM: stopping at the end of this chunk" in output and "Traceback" not in output
    from jaxrl.host.checkpoint import read_meta
    assert 1000 <= read_meta(out / "checkpoint.msgpack")["env_steps"] < 400000


class _Exiting:
    """A process stand-in whose `poll()` gives `codes` in turn, then the last one for good."""

    def __init__(self, *codes):
        self.codes = list(codes)

    def poll(self):
        return self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]


def test_launcher_waits_for_every_worker_after_a_forwarded_signal():
    """After a forwarded SIGTERM one worker may checkpoint and exit 130 while another is still writing: that is
    the answer asked for, and the launcher waits for the rest. (Taking the 130 for a failure and terminating the
    others killed one whose handler was already restored: exit 143, its checkpoint at risk.)"""
    from jaxrl.host.launch import _wait
    assert _wait([_Exiting(None, None, None, 130), _Exiting(130)], lambda: True) is None
    assert _wait([_Exiting(None, None, 0), _Exiting(None, 0)], lambda: True) is None
    assert _wait([_Exiting(None, None, 130), _Exiting(None, 1)], lambda: True) == 1  # a real failure still counts
    assert _wait([_Exiting(None, None), _Exiting(None, 130)], lambda: False) == 1  # 130 unasked: a failure


def test_ctrl_c_in_a_terminal_reaches_each_worker_once(tmp_path):
    """A terminal's Ctrl-C goes to the launcher's whole process group. The workers run in their own session, so
    they hear it once, forwarded (twice would mean "stop now, unsaved"): every one checkpoints, exit 130."""
    out = tmp_path / "run"
    launcher, workers = _launch(out, start_new_session=True)
    assert launcher.poll() is None and len(workers) == 2
    os.killpg(launcher.pid, signal.SIGINT)
    output, _ = launcher.communicate(timeout=120)
    assert launcher.returncode == 130, output[-3000:]
    assert "stopped at once" not in output and "Traceback" not in output
    from jaxrl.host.checkpoint import read_meta
    assert 1000 <= read_meta(out / "checkpoint.msgpack")["env_steps"] < 400000


def test_workers_die_with_their_launcher(tmp_path):
    """`kill -9` of the launcher: no orphans (the workers get SIGKILL from the kernel, `PR_SET_PDEATHSIG`)."""
    out = tmp_path / "run"
    launcher, workers = _launch(out)
    assert launcher.poll() is None and len(workers) == 2
    launcher.kill()
    launcher.wait(timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(p) for p in workers.values()):
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers.values())


def test_sigint_during_evaluate_is_one_line_and_writes_nothing(uninterrupted, tmp_path):
    """`jaxrl evaluate` (and `compare`) stop at once on Ctrl-C: one line, exit 130, no report half-written."""
    import shutil
    run = tmp_path / "run"
    shutil.copytree(uninterrupted, run)
    proc = subprocess.Popen([sys.executable, "-m", "jaxrl.cli", "evaluate", str(run), "--episodes", "100000"],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # printed once the handler is installed and the episodes begin
    assert line.startswith("evaluating"), line
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in out + err and "interrupted" in err.strip().splitlines()[-1]
    assert not list(run.glob("evaluate-*"))
