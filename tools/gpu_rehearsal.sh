#!/usr/bin/env bash
# `make gpu-rehearsal`: the GPU protocol on this CPU, in an environment made like the GPU machine's.
#
# A Python 3.12 venv (.gpu/venv312) holds only packages the GPU image has, at its versions where known
# (.gpu/image-side.txt, written by `make gpu-bundle`: jax/jaxlib 0.11.2 CPU, numpy 2.5.2, flax, optax, chex,
# matplotlib, imageio, msgpack, rich, scipy, ...; opencv-python-headless for the video). No torch: a CPU torch
# for 3.12 is not on disk here, and the protocol leaves torch's rows out without it. The bundle
# (.gpu/site-packages) and the repo go on PYTHONPATH exactly as on the machine, then the protocol runs twice in
# --tiny mode: a first call (doctor, measurements, a Pong run stopped at its deadline) and a `--continue` call
# that resumes the run. Each call's files land in .gpu/rehearsal/call{1,2}; the checks below must pass.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
PY312=${PY312:-$(ls -d "$HOME"/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1)}
PY312=${PY312:-python3.12}
VENV=.gpu/venv312
STAMP=$VENV/.installed
if [ ! -f "$STAMP" ] || ! cmp -s .gpu/image-side.txt "$STAMP"; then
  rm -rf "$VENV"
  "$PY312" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --no-deps -r .gpu/image-side.txt opencv-python-headless==4.13.0.92 \
    2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import jax, flax, optax, chex, cv2" # the install above must have worked
  cp .gpu/image-side.txt "$STAMP"
fi
export PYTHONPATH="$PWD/.gpu/site-packages:$PWD" PYTHONNOUSERSITE=1 PYTHONUNBUFFERED=1
PY="$VENV/bin/python"
"$PY" - <<'EOF'
import importlib.util, sys
assert sys.version_info[:2] == (3, 12), sys.version
for name in ("torch", "imageio_ffmpeg", "flashbax"):
    assert importlib.util.find_spec(name) is None, f"{name} must not be in the rehearsal environment"
import envpool, gymnax, tyro, jax
print(f"rehearsal env: python {sys.version.split()[0]}, jax {jax.__version__}, envpool {envpool.__version__} "
      f"from {envpool.__file__}")
EOF
R=.gpu/rehearsal
rm -rf "$R"
mkdir -p "$R"
"$PY" -m benchmarks.gpu --tiny --out "$R/call1" --run-dir "$R/pong-run" --deadline 240 2>&1 | tee "$R/call1.log"
"$PY" -m benchmarks.gpu --tiny --continue --out "$R/call2" --run-dir "$R/pong-run" --deadline 100 2>&1 \
  | tee "$R/call2.log"
"$PY" - "$R" <<'EOF'
import json, sys
from pathlib import Path
r = Path(sys.argv[1])
for call in ("call1", "call2"):
    files = sorted(p.name for p in (r / call).iterdir())
    assert len(files) <= 8, f"{call}: {len(files)} files > 8"
    for need in ("doctor.json", "gpu-protocol.json", "pong-curves.json", "pong-curves.png"):
        assert need in files, f"{call}: no {need}"
    assert max((r / call / f).stat().st_size for f in files) < 16 * 2**20
one = json.loads((r / "call1" / "gpu-protocol.json").read_text())
errors = [m for m in one["measurements"] if "error" in m]
assert not errors, errors
names = {m["name"] for m in one["measurements"]}
assert names == {"env_ceiling", "matmul_peak", "seed_update", "seed_sps", "update", "pong_sps", "pong_step_us",
                 "pong_trace", "pong_fast_sps", "pong_conv", "buffer_copies", "cartpole_sweep"}, names
assert json.loads((r / "call2" / "gpu-protocol.json").read_text())["mode"] == "continue"
assert json.loads((r / "call1" / "doctor.json").read_text())["env_xla_probe"]["ok"]
c1 = json.loads((r / "call1" / "pong-curves.json").read_text())
c2 = json.loads((r / "call2" / "pong-curves.json").read_text())
assert c1["env_steps"] > 0 and c2["env_steps"] > c1["env_steps"], (c1["env_steps"], c2["env_steps"])
assert [c["exit_status"] for c in c2["calls"]] == [130, 130], c2["calls"]
print(f"rehearsal checks passed: call 1 {len(one['measurements'])} measurements, Pong run {c1['env_steps']:,} env "
      f"steps, resumed by call 2 to {c2['env_steps']:,}")
EOF
echo "gpu-rehearsal: passed in $(( $(date +%s) - start )) s"
