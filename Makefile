# Every target creates .venv on first use and installs the project with the pinned versions.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: sweep pong test bench bench-quick clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[reference,test,bench]'
	touch $(STAMP)

## make sweep: 16-seed CartPole DQN sweep on CPU (a few minutes), per-seed summary + aggregate steps/s
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

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
