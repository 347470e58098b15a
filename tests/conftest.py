import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One persistent compilation cache for the whole test run, shared by the xdist workers and the training
# subprocesses (both inherit the environment set here by the first process): the same programs (a fixture's run
# and its resumed twin, the same tiny configs in several files) compile once. A fresh directory per test run,
# removed at its end by the process that made it (`pytest_unconfigure`); a directory given by the caller is kept.
_CACHE_OWNER = "JAXRL_TEST_CACHE_OWNER"
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxrl-test-cache-")
    os.environ[_CACHE_OWNER] = str(os.getpid())
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

import jax  # noqa: E402

# Silent broadcasting between ranks is a bug in this code base: make it an error in tests.
jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_unconfigure(config):
    """The run's compilation cache goes with the run: the process that made it removes it, after its workers have
    finished (they and the training subprocesses only inherit it)."""
    if os.environ.get(_CACHE_OWNER) == str(os.getpid()):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
