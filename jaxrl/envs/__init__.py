"""Environment adapters. `gymnax_env` is pure JAX (runs inside `lax.scan`)."""

from jaxrl.envs.gymnax_env import VectorEnv, is_gymnax_env, make_vector_env

__all__ = ["VectorEnv", "is_gymnax_env", "make_vector_env"]
