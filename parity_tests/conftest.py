import json
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")

_MAX_SEEN: dict = {}


@pytest.fixture
def record_max():
    """Record the largest difference seen per comparison; printed at the end of the session."""
    def record(name: str, value: float) -> None:
        _MAX_SEEN[name] = max(_MAX_SEEN.get(name, 0.0), float(value))
    return record


def pytest_sessionfinish(session):
    """Under pytest-xdist (`make test`) each worker hands its maxima to the controller, which prints them."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["parity_max_seen"] = json.dumps(_MAX_SEEN)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    for name, value in json.loads(getattr(node, "workeroutput", {}).get("parity_max_seen", "{}")).items():
        _MAX_SEEN[name] = max(_MAX_SEEN.get(name, 0.0), value)


def pytest_terminal_summary(terminalreporter):
    if _MAX_SEEN:
        terminalreporter.section("parity: largest observed differences")
        for name in sorted(_MAX_SEEN):
            terminalreporter.write_line(f"{name:40s} {_MAX_SEEN[name]:.3e}")
