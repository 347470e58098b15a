"""The GPU kit's pure parts: the bundle's package lists, the protocol's "solved" point and curves, the video
writer's fallback. (`make gpu-bundle` and `make gpu-rehearsal` themselves need PyPI and Python 3.12.)"""

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.pong_run import SOLVE_WINDOW, pong_curves, solved_point

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bundle():
    spec = importlib.util.spec_from_file_location("gpu_bundle", ROOT / "tools" / "gpu_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_image_list_and_bundle_requirements(bundle):
    image = bundle.image_packages()
    assert image["jax"] == image["jaxlib"] == "0.11.2" and image["numpy"] == "2.5.2"
    assert "flax" in image and "envpool" not in image and "gymnax" not in image and "tyro" not in image
    reqs = [bundle.canonical(r.split(">")[0].split("=")[0]) for r in bundle.requirements()]
    assert "envpool" in reqs and "gymnax" in reqs and "tyro" in reqs
    assert "imageio-ffmpeg" not in reqs  # 165 MB: the video falls back to OpenCV there
    pins = bundle.constraints(image)
    assert "jax==0.11.2" in pins and "numpy==2.5.2" in pins  # the image's versions win over constraints.txt
    assert "envpool==1.2.5" in pins and not any(p.startswith("jax==0.10") for p in pins)


def test_solved_point_by_hand():
    assert solved_point([21.0] * (SOLVE_WINDOW - 1)) is None  # fewer than 100 games never count
    assert solved_point([21.0] * SOLVE_WINDOW) == SOLVE_WINDOW - 1
    # 100 games at 18 (mean 18: not > 18), then one 21 replaces an 18: mean 18.03 at game 101 (index 100)
    assert solved_point([18.0] * SOLVE_WINDOW + [21.0]) == SOLVE_WINDOW
    # k games of -21 among 100 of 21: mean 21 - 0.42 k > 18 <=> k <= 7, i.e. 43 of the 50 -21s have left the
    # window ending at index 99 + 43 = 142
    assert solved_point([-21.0] * 50 + [21.0] * 100) == 142


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def test_pong_curves_from_a_run_directory(tmp_path):
    run, out = tmp_path / "run", tmp_path / "out"
    run.mkdir()
    out.mkdir()
    returns = [-21.0] * 20 + [20.0] * 110
    write_csv(run / "metrics.csv", ["seed", "step", "return", "length"],
              [[0, 1000 * (i + 1), r, 900] for i, r in enumerate(returns)])
    write_csv(run / "progress.csv", ["step", "frames", "seconds", "sps", "loss", "epsilon", "episodes",
                                     "mean_return_last100"],
              [[10_000 * k, 40_000 * k, 10.0 * k, 1000, 0.01, 0.02, 10 * k, 0] for k in range(1, 14)])
    doc = pong_curves(run, out, [{"exit_status": 130}])
    # k games of -21 among 100 of 20: mean 20 - 0.41 k > 18 <=> k <= 4: the window ending at index 99 + 16 = 115
    # (game 116, env step 116,000); its wall time is the end of the chunk holding it (step 120,000: 120 s)
    assert doc["solved"]["game"] == 116 and doc["solved"]["env_steps"] == 116_000
    assert doc["solved"]["frames"] == 464_000 and doc["solved"]["wall_seconds"] == 120.0
    assert doc["env_steps"] == 130_000 and doc["games"] == 130
    assert json.loads((out / "pong-curves.json").read_text())["solved"] == doc["solved"]
    assert (out / "pong-curves.png").stat().st_size > 10_000 and (out / "pong-progress.csv").exists()


def test_video_without_a_writer_is_a_clear_error(tmp_path, monkeypatch):
    from jaxrl.host.evaluate import write_video
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(RuntimeError, match="install imageio-ffmpeg or opencv-python-headless"):
        write_video(tmp_path / "v.mp4", [np.zeros((84, 84), np.uint8)])
