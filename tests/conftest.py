import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

# Silent broadcasting between ranks is a bug in this code base: make it an error in tests.
jax.config.update("jax_numpy_rank_promotion", "raise")
