"""Environment adapters, imported lazily: importing gymnax builds arrays (it starts JAX's backends), which must
wait until `jax.distributed.initialize()` and the host-device count are settled. `gymnax_env` is pure JAX
(runs inside `lax.scan`); `envpool_env` adapts envpool's Atari pool; `frozen_lake` is the tabular env."""

_LAZY = {"VectorEnv": "gymnax_env", "is_gymnax_env": "gymnax_env", "make_vector_env": "gymnax_env",
         "TimeStep": "timestep"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"jaxrl.envs.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'jaxrl.envs' has no attribute {name!r}")
