"""The GPU protocol: everything worth measuring on a borrowed GPU, in one call of at most 10 minutes.

    PYTHONPATH=.gpu/site-packages:. python -m benchmarks.gpu [--out DIR] [--deadline S] [--tiny] [--short]
                                                             [--preset P] [--train-args='...']
    PYTHONPATH=.gpu/site-packages:. python -m benchmarks.gpu --continue [--out DIR] [--deadline S]

The first form runs, in this order, and writes at most 7 files into `--out` (default `$OUT`, else
`benchmarks/results/gpu-<date>/`):

  doctor.json          `jaxrl doctor`'s report: GPU, driver, jax/jaxlib/envpool versions, the env.xla() probe
  gpu-protocol.json    the measurements below, with the machine block (GPU, driver, versions) and the command
    update             Nature-CNN update throughput, jaxrl (XLA's conv and im2col) vs torch_reference on CUDA,
                       batch 32/128/512
    pong_sps           Pong learner env steps/s (the course's preset): jaxrl host and XLA loops, each lock-step
                       and overlapped, torch_reference; 1 and 8 seeds
    pong_fast_sps      the `pong-fast` preset's learning env steps/s, 1 and 8 seeds at once, XLA loop lock-step
                       and overlapped (what bounds the time for 8 agents to reach the env steps that solve Pong)
    pong_conv          one agent's learning env steps/s in the overlapped XLA loop with XLA's convolution and with
                       im2col, presets pong and pong-fast (the choice of `conv_kernel` on this backend)
    pong_step_us       microseconds per env step with the updates off, each loop and envpool alone; 1 and 8 envs
    pong_trace         a profiler trace of one learning chunk of the host loop and of the XLA loop, lock-step and
                       overlapped (1 seed), per env step: wall time, busy time per thread (GPU streams, XLA
                       workers, Python), the top ops and Python frames
    buffer_copies      copies of the replay buffer in the compiled XLA-loop chunk, with and without
                       `compiler_options()` (copy insertion with region analysis)
    cartpole_sweep     the CartPole sweep at 1/16/256/1024/4096 seeds against torch_reference, one seed
    env_ceiling, matmul_peak, seed_update, seed_sps
                       seeds on one device (`benchmarks.seed_scaling`): envpool alone at 8-128 envs, the device's
                       matmul peak, the S-seed update alone and `pong-fast`'s SPS at S = 1..16 per formulation
                       (conv kernel x compute dtype), with FLOP/s and % of peak; first in `--short`
    atari5             only when `--parts` names it: `benchmarks.atari5` (machado protocol) for its time, IQM HNS
  pong-curves.json     the Pong learning run (`--preset pong-fast`, 1 seed): games, env steps, frames, wall time, and
  pong-curves.png      the first point where the mean of the last 100 games exceeds 18 ("solved")
  pong-progress.csv    the run's per-chunk progress (steps, SPS, loss, epsilon)
  pong-trace-xla.json.gz, pong-trace-xla-overlap.json.gz
                       the raw traces of the XLA loop's chunks (open in Perfetto), where the trace part ran

The Pong run gets the time left before `--deadline` (seconds from the start; default 540, inside a 10-minute
call). It runs as `jaxrl train` in a child process writing to `--run-dir` (default `.gpu/pong-run`, git-ignored:
it stays on a warm machine between calls), is stopped with SIGTERM when its time is up or once it is solved, and
checkpoints then. `--continue` skips the measurements and resumes that run (`jaxrl train --resume`) for the
whole call, then rewrites the curves. `--train-args='--no-overlap'` (with `=`) passes more `jaxrl train` flags
to the Pong run, on top of `--preset`. `--short` measures, in this order, the Pong loops (1 seed), the buffer
copies (lock-step and overlapped chunks), the loops' traces, `pong-fast` with 1 and 8 seeds, the two
convolution kernels in the loop, the CNN update and the per-step costs, no part starting after 300 s, for
a machine lent for minutes. `--tiny` shrinks everything (small sweeps, a tiny Pong config) so the whole
protocol runs on a CPU in a few minutes: `make gpu-rehearsal`.

torch is optional (the CPU rehearsal has none): without it the torch rows are left out and the JSON says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
from pathlib import Path

from benchmarks.pong_run import pong_curves, run_pong, stamp
SEED_SCALING = ["env_ceiling", "matmul_peak", "seed_update", "seed_sps"]  # benchmarks.seed_scaling, in this order
SCALING = {"env_counts": [8, 16, 32, 64, 128], "env_seconds": 1.0, "matmul_n": 8192, "update_seeds": [1, 8, 16],
           "update_steps": 20, "scaling_seeds": [1, 2, 4, 8, 16], "scaling_iterations": 50}
FULL = {"cnn_batches": [32, 128, 512], "cnn_updates": 50, "pong_seeds": [1, 8], "pong_iterations": 200, "pong_envs": [1, 8],
        "fast_seeds": [1, 8], "fast_iterations": 100,
        "sweep_seeds": [1, 16, 256, 1024, 4096], "sweep_steps": 5000, "repeats": 3, "pong_args": [], **SCALING}
# A call on a machine lent for only a few minutes: the Pong loops first, one seed count (pong-fast: 1 and 8), no
# CartPole sweep; no part starts after `measure_seconds`, and the pong-fast run gets the rest of the deadline.
SHORT = {"cnn_batches": [32, 128], "cnn_updates": 20, "pong_seeds": [1], "pong_iterations": 100, "pong_envs": [1, 8],
         "fast_seeds": [1, 8], "fast_iterations": 50, "repeats": 3, "pong_args": [], "measure_seconds": 300,
         **SCALING, "update_seeds": [1, 8],
         "parts": [*SEED_SCALING, "pong_sps", "buffer_copies", "pong_trace", "pong_fast_sps", "pong_conv", "update",
                   "pong_step_us"]}
TINY = {"cnn_batches": [32], "cnn_updates": 2, "pong_seeds": [1, 2], "pong_iterations": 4, "pong_envs": [1],
        "fast_seeds": [1, 2], "fast_iterations": 2, "env_counts": [2, 4], "env_seconds": 0.2, "matmul_n": 256,
        "update_seeds": [1, 2], "update_steps": 2, "scaling_seeds": [1, 2], "scaling_iterations": 2,
        "formulations": [("im2col", "float32"), ("im2col", "bfloat16")], "atari5_tiny": True, "atari5_seconds": 120.0,
        "sweep_seeds": [1, 4], "sweep_steps": 2000, "repeats": 3,
        "pong_args": ["--num-envs", "1", "--train-frequency", "16", "--learning-starts", "512", "--buffer-size",
                      "2000", "--log-frequency", "256", "--eval-frequency", "0", "--checkpoint-frequency", "0",
                      "--target-update-frequency", "512", "--total-steps", "1024000", "--no-video"]}


PARTS = [*SEED_SCALING, "update", "pong_sps", "pong_fast_sps", "pong_conv", "pong_step_us", "pong_trace",
         "buffer_copies", "cartpole_sweep", "atari5"]


DEFAULT_PARTS = [p for p in PARTS if p != "atari5"]  # atari5 runs only when --parts names it


def parse_formulations(text: str) -> list[tuple[str, str]]:
    """"im2col:bfloat16,xla:float32" -> [("im2col", "bfloat16"), ("xla", "float32")]; ValueError when malformed."""
    from jaxrl.config import COMPUTE_DTYPES, CONV_KERNELS
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        conv, _, dtype = item.partition(":")
        if conv not in CONV_KERNELS[1:] or dtype not in COMPUTE_DTYPES:
            raise ValueError(f"formulation {item!r}: expected CONV:DTYPE, CONV one of {', '.join(CONV_KERNELS[1:])}, "
                             f"DTYPE one of {', '.join(COMPUTE_DTYPES)}")
        out.append((conv, dtype))
    return out


def run_formulation(choice: str, measurements: list[dict], num_seeds: int) -> list[str]:
    """`jaxrl train` flags for the Pong run's formulation: "preset" (none), "CONV:DTYPE", or "fastest": the one
    with the most env steps/s (`seed_sps`), else updates/s (`seed_update`), at the seed count nearest the run's in
    this call's measurements (the preset's own where none was measured)."""
    if choice == "preset":
        return []
    if choice != "fastest":
        (conv, dtype), = parse_formulations(choice)
        return ["--conv", conv, "--compute-dtype", dtype]
    for name in ("seed_sps", "seed_update"):
        rows = [m for m in measurements if m.get("name") == name and "params" in m]
        nearest = min((abs(m["params"]["seeds"] - num_seeds) for m in rows), default=None)
        rows = [m for m in rows if abs(m["params"]["seeds"] - num_seeds) == nearest]
        if rows:
            best = max(rows, key=lambda m: m["value"])["params"]
            return ["--conv", best["conv"], "--compute-dtype", best["compute_dtype"]]
    return []


def torch_device() -> str | None:
    """"cuda" where torch sees a GPU, "cpu" where torch is installed without one, None without torch."""
    try:
        import torch
    except ImportError:
        return None
    return "cuda" if torch.cuda.is_available() else "cpu"


def machine(doctor_info: dict) -> dict:
    """The results' machine block: GPU, driver, versions (from the doctor report), CPU."""
    from benchmarks.common import cpu_model
    return {"gpu": doctor_info["nvidia_smi_gpus"] or None, "driver": doctor_info["nvidia_driver"],
            "jax_backend": doctor_info["jax_backend"], "devices": doctor_info["devices"],
            "device_kinds": doctor_info["device_kinds"], "cpu": cpu_model(), "cores": os.cpu_count(),
            "python": doctor_info["python"], "platform": doctor_info["platform"],
            "versions": {k: v for k, v in doctor_info["versions"].items() if v}}


# ------------------------------------------------------------------------------------------- measurements
def measure(s: dict, t0: float, save=lambda measurements: None, xla_ok: bool = True,
            out_dir: Path | None = None, formulations=None, compare=()) -> list[dict]:
    """CNN updates, Pong SPS and the CartPole sweep (each part's errors recorded, not fatal); `save` is called
    with everything so far after each part, so a call cut short keeps what it measured. Without `xla_ok` (the
    doctor's env.xla() probe failed) the XLA loop is not run: an abort in envpool would end the whole call.
    `out_dir`: where the trace part writes its raw XLA-loop traces; `formulations`: the (conv, compute dtype)
    pairs of `seed_update` and `seed_sps` (default `benchmarks.seed_scaling.FORMULATIONS`); `compare`: more pairs
    for `seed_update`, which `seed_sps` times at 1 and 8 seeds only."""
    from benchmarks import seed_scaling, suite
    from benchmarks.atari5 import bench_atari5
    from benchmarks.pong import (LOOPS, STEP_LOOPS, bench_pong_conv, bench_pong_fast_sps, bench_pong_sps,
                                 bench_pong_step_us, buffer_copies)
    from benchmarks.trace import bench_pong_trace
    device = torch_device()
    loops = LOOPS if xla_ok else ("host", "overlap")
    xla_loops = [loop for loop in loops if loop.startswith("xla")]
    forms = formulations or s.get("formulations") or seed_scaling.FORMULATIONS
    parts = dict([
        ("env_ceiling", lambda: seed_scaling.bench_env_ceiling(s["env_counts"], s["env_seconds"], s["repeats"])),
        ("matmul_peak", lambda: seed_scaling.bench_matmul_peak(s["matmul_n"])),
        ("seed_update", lambda: seed_scaling.bench_update(s["update_seeds"], [*forms, *compare], s["update_steps"],
                                                          s["repeats"])),
        ("seed_sps", lambda: seed_scaling.bench_sps(s["scaling_seeds"], forms, s["scaling_iterations"], s["repeats"],
                                                    (xla_loops or ["overlap"])[-1], compare=compare)),
        ("update", lambda: suite.bench_update(["cnn"], s["cnn_batches"], s["repeats"], s["cnn_updates"], None,
                                              torch_device=device)),
        ("pong_sps", lambda: bench_pong_sps(s["pong_seeds"], s["pong_iterations"], s["repeats"],
                                            threads=os.cpu_count(), torch_device=device,
                                            loops=loops)),
        ("pong_fast_sps", lambda: bench_pong_fast_sps(s["fast_seeds"], s["fast_iterations"], s["repeats"],
                                                      xla_loops or ["host"])),
        ("pong_conv", lambda: [m for preset, n in (("pong", s["pong_iterations"]),
                                                   ("pong-fast", s["fast_iterations"]))
                               for m in bench_pong_conv(n, s["repeats"], (xla_loops or ["host"])[-1], preset)]),
        ("pong_step_us", lambda: bench_pong_step_us(s["pong_envs"], 8 * s["pong_iterations"], s["repeats"],
                                                    [loop for loop in loops if loop in STEP_LOOPS])),
        ("pong_trace", lambda: bench_pong_trace(s["pong_iterations"], [loop for loop in loops if loop != "overlap"],
                                                keep_loops=xla_loops,
                                                keep=out_dir)),
        ("buffer_copies", buffer_copies if xla_ok else list),
        ("cartpole_sweep", lambda: suite.bench_cartpole_sweep(s["sweep_seeds"], s["sweep_steps"], s["repeats"], None,
                                                              torch_runs=("sequential",) if device else ())),
        ("atari5", lambda: bench_atari5(s.get("atari5_seconds", 240.0), tiny=s.get("atari5_tiny", False))),
    ])
    assert list(parts) == PARTS, list(parts)
    out = []
    for name in s.get("parts", DEFAULT_PARTS):
        run = parts[name]
        if time.perf_counter() - t0 > s.get("measure_seconds", float("inf")):
            out.append({"name": name, "skipped": f"not started: past {s['measure_seconds']:.0f} s of measurements"})
            print(f"{stamp(t0)} {name} skipped (time)", flush=True)
            continue
        print(f"{stamp(t0)} {name} ...", flush=True)
        try:
            for m in run():
                out.append(dataclasses.asdict(m))
                print(f"{stamp(t0)}   {m.impl:6s} {json.dumps(m.params)}: {m.value:,.1f} {m.unit}", flush=True)
        except Exception as e:  # noqa: BLE001 - one failed part must not cost the others their call
            out.append({"name": name, "error": f"{type(e).__name__}: {e}"[:1000]})
            print(f"{stamp(t0)}   {name} FAILED: {type(e).__name__}: {e}", flush=True)
        save(out)
    return out


# ------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=None, help="results folder (default $OUT, else benchmarks/results/"
                   "gpu-<date>/)")
    p.add_argument("--run-dir", type=Path, default=Path(".gpu/pong-run"), help="the Pong run (default %(default)s)")
    p.add_argument("--deadline", type=float, default=540.0, help="seconds for the whole call (default %(default)s)")
    p.add_argument("--continue", dest="resume", action="store_true", help="resume the Pong run, measure nothing")
    p.add_argument("--tiny", action="store_true", help="tiny sizes: the CPU rehearsal")
    p.add_argument("--short", action="store_true", help="the Pong loops only, for a machine lent for minutes")
    p.add_argument("--preset", default="pong-fast", help="the Pong run's preset (default %(default)s)")
    p.add_argument("--skip-measurements", action="store_true", help="only doctor + the Pong run")
    p.add_argument("--parts", default=None, help="comma-separated measurement parts, in order (default: the mode's): "
                   + ", ".join(PARTS))
    p.add_argument("--formulations", default=None, help="CONV:DTYPE pairs of seed_update and seed_sps, comma-separated "
                   "(default: xla and im2col, each in float32 and bfloat16)")
    p.add_argument("--compare", default="", help="more CONV:DTYPE pairs that seed_sps times at 1 and 8 seeds only")
    p.add_argument("--no-run", action="store_true", help="measure only: no Pong run")
    p.add_argument("--run-formulation", default="preset", help="the Pong run's convolution and compute dtype: "
                   "'preset' (default), CONV:DTYPE, or 'fastest' (the most env steps/s, else updates/s, measured in "
                   "this call at the run's seed count)")
    p.add_argument("--train-args", default="", help="more `jaxrl train` flags for the Pong run, one string "
                   "(--train-args='--no-overlap', with '='; not with --continue, which resumes the run's own config)")
    args = p.parse_args(argv)
    if args.no_run and (args.resume or args.skip_measurements):
        p.error("--no-run measures only: not with --continue or --skip-measurements")
    if args.resume and (args.train_args or args.run_formulation != "preset"):
        p.error("--train-args and --run-formulation start a run; --continue resumes one with its own config")
    parts = [x.strip() for x in args.parts.split(",") if x.strip()] if args.parts is not None else None
    if parts is not None and (bad := [x for x in parts if x not in PARTS]):
        p.error(f"--parts: unknown part(s) {', '.join(bad)}; choose among {', '.join(PARTS)}")
    try:
        formulations = parse_formulations(args.formulations) if args.formulations else None
        compare = parse_formulations(args.compare)
        if args.run_formulation not in ("preset", "fastest"):
            parse_formulations(args.run_formulation)
    except ValueError as e:
        p.error(str(e))
    t0 = time.perf_counter()
    from jaxrl.host.devices import prepare_process
    prepare_process()  # as `jaxrl train` runs
    s = TINY if args.tiny else SHORT if args.short else FULL
    s = {**s, "parts": parts} if parts is not None else s
    out = args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else
                       Path("benchmarks/results") / f"gpu-{time.strftime('%Y-%m-%d')}")
    out.mkdir(parents=True, exist_ok=True)

    from jaxrl.host import doctor
    info = doctor.report(probe=True)
    print(doctor.format_report(info), flush=True)
    (out / "doctor.json").write_text(json.dumps(info, indent=2) + "\n")
    if info["cuda_jax_missing"]:
        print(f"jaxrl: error: {info['cuda_jax_missing']}", file=sys.stderr)
        return 2
    command = "python -m benchmarks.gpu " + " ".join(sys.argv[1:] if argv is None else argv)
    results_path = out / "gpu-protocol.json"
    doc = {"machine": machine(info), "command": command,
           "mode": "continue" if args.resume else "tiny" if args.tiny else "short" if args.short else "full",
           "date": time.strftime("%Y-%m-%d"), "torch_device": torch_device(), "measurements": []}
    if args.resume:
        if not (args.run_dir / "checkpoint.msgpack").exists():
            print(f"{stamp(t0)} --continue: no checkpoint in {args.run_dir} (the machine went cold?): starting the "
                  "run anew", flush=True)
            args.resume = False
            doc["mode"] = "continue, no checkpoint: a new run"
    elif not args.skip_measurements:
        def save(measurements):  # kept even if the call is cut short or the Pong run fails
            doc.update(measurements=measurements, measure_seconds=time.perf_counter() - t0)
            results_path.write_text(json.dumps(doc, indent=2) + "\n")

        measure(s, t0, save, xla_ok=bool(info["env_xla_probe"].get("ok")), out_dir=out, formulations=formulations,
                compare=compare)

    if args.no_run:
        doc["seconds"] = time.perf_counter() - t0
        results_path.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"{stamp(t0)} wrote {', '.join(sorted(f.name for f in out.iterdir()))} to {out}", flush=True)
        return 0 if all("error" not in m for m in doc["measurements"]) else 1
    calls_path = args.run_dir / "protocol-calls.json"
    calls = json.loads(calls_path.read_text()) if args.resume and calls_path.exists() else []
    if not args.resume and args.run_dir.exists():
        import shutil
        shutil.rmtree(args.run_dir)
    budget = max(60.0, args.deadline - (time.perf_counter() - t0) - 45.0)  # 45 s: stop, checkpoint, curves
    from jaxrl.config import get_preset
    extra = run_formulation(args.run_formulation, doc["measurements"], get_preset(args.preset).num_seeds)
    extra += shlex.split(args.train_args)
    pong_args = s["pong_args"] + ([] if info["env_xla_probe"].get("ok") else ["--loop", "host"]) + extra
    # What started the run names it, also when a later call resumes it (with this call's defaults).
    label = calls[0]["label"] if calls and "label" in calls[0] else \
        " ".join([f"preset {args.preset}", *extra]) + (" with tiny overrides" if args.tiny else "")
    call = run_pong(args.run_dir, budget, args.resume, pong_args, t0, args.preset)
    calls.append({**call, "label": label})
    if args.run_dir.exists():
        calls_path.write_text(json.dumps(calls) + "\n")
    curves = pong_curves(args.run_dir, out, calls, label)
    doc["pong_run"] = {k: v for k, v in curves.items() if k not in ("game_seeds", "game_steps", "game_returns", "progress")}
    if args.resume and results_path.exists():  # keep the first call's measurements beside the run
        doc["measurements"] = json.loads(results_path.read_text()).get("measurements", [])
    doc["seconds"] = time.perf_counter() - t0
    results_path.write_text(json.dumps(doc, indent=2) + "\n")
    solved = curves["solved"]
    print(f"{stamp(t0)} pong: {curves['games']} games, {curves['env_steps']:,} env steps, "
          f"{curves['wall_seconds']:.0f} s of training; "
          + (f"SOLVED at {solved['env_steps']:,} env steps / {solved['wall_seconds']:.0f} s" if solved else
             f"not solved yet (stopped: {call['stopped_because']}, exit {call['exit_status']}); "
             "`--continue` resumes it"), flush=True)
    print(f"{stamp(t0)} wrote {', '.join(sorted(f.name for f in out.iterdir()))} to {out}", flush=True)
    ok = call["exit_status"] in (0, 130) and all("error" not in m for m in doc["measurements"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
