# Every target creates .venv on first use and installs the project with the pinned versions.
# CUDA=1 (any target): also the `cuda` extra, CUDA jax (jax-cuda12-plugin, pinned), for your own GPU box.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
comma  := ,
EXTRAS := reference,test,bench$(if $(CUDA),$(comma)cuda)
STAMP  := $(VENV)/.installed$(if $(CUDA),-cuda)

.PHONY: sweep pong test bench bench-quick gpu-bundle gpu-rehearsal clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

## make sweep: 16-seed CartPole DQN sweep on CPU (about 1.5 minutes on 2 cores), per-seed summary + aggregate steps/s
sweep: $(STAMP)
	$(BIN)/jaxrl train --preset cartpole --num-seeds 16

## make pong: the course's Pong preset on envpool (XLA loop); warns on a CPU-only machine and runs anyway.
## Extra flags: make pong ARGS="--num-seeds 8 --num-envs 8 --train-frequency 8"
pong: $(STAMP)
	$(BIN)/jaxrl train --preset pong $(ARGS)

## make test: unit, learning and parity tests, one test file per worker on up to 4 cores (pytest-xdist)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

## make bench: the full benchmark suite (jaxrl vs torch_reference): JSON + table + scaling plot
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## make bench-quick: the < 3 minute suite
bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

## make gpu-bundle: .gpu/site-packages (<= 40 MiB) = what the borrowed GPU machine (Python 3.12, no registry)
## lacks: envpool trimmed to Atari + ROMs, gymnax, tyro and their pure-Python deps (tools/gpu_bundle.py)
gpu-bundle:
	$(PYTHON) tools/gpu_bundle.py

## make gpu-rehearsal: the GPU protocol (benchmarks/gpu.py --tiny, two calls) on this CPU in a Python 3.12 venv
## holding only the GPU image's packages, with the bundle on PYTHONPATH
gpu-rehearsal: gpu-bundle
	bash tools/gpu_rehearsal.sh

clean:
	rm -rf $(VENV) .gpu runs .pytest_cache .hypothesis
