"""Shared by tests/ and parity_tests/ (loaded before theirs).

One OpenMP thread per core and pytest-xdist worker, for the workers and every subprocess they start: torch's
OpenMP threads spin while they wait for work, so with more threads than cores the two workers of `make test` on
2 cores slow each other (the parity suite: 123 s with 2 threads each, 93 s with 1). XLA does not use OpenMP."""

import os

_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _workers)))
