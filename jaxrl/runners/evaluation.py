"""Greedy evaluation of gymnax agents, compiled: `eval_episodes` whole episodes per agent, one per env of a
separate batch of envs (own keys, never the training envs), epsilon = `eval_epsilon`.

    evaluate = make_evaluate(config)
    returns = jax.jit(jax.vmap(evaluate))(params [S], keys [S])     # -> [S, eval_episodes]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.dqn import act
from jaxrl.agents.networks import make_network
from jaxrl.config import DQNConfig
from jaxrl.envs import make_vector_env

EVAL_KEY_SALT = 0x0E7A1  # eval keys: fold_in(PRNGKey(seed), salt + env step), apart from every training key


def make_evaluate(config: DQNConfig):
    """`evaluate(params, key) -> returns [eval_episodes]`: every env plays one episode from its own reset to its
    end (terminated or truncated at the env's step limit); rewards after an env's episode ended are not
    counted. A `lax.while_loop` stops when every episode has ended."""
    env = make_vector_env(config.env_id, config.eval_episodes)
    network = make_network(config, env.num_actions, env.obs_shape)
    limit = int(getattr(env.params, "max_steps_in_episode", 10_000)) + 1

    def evaluate(params, key):
        key, reset_key = jax.random.split(key)
        obs, env_state = env.reset(reset_key)
        n = config.eval_episodes

        def body(carry):
            t, obs, env_state, returns, done, key = carry
            key, act_key, step_key = jax.random.split(key, 3)
            actions = act(network, params, obs, act_key, config.eval_epsilon)
            out = env.step(step_key, env_state, actions)
            ts = out.timestep
            returns = returns + jnp.where(done, 0.0, ts.score)
            return t + 1, ts.obs, out.env_state, returns, done | ts.game_over, key

        carry = (0, obs, env_state, jnp.zeros(n, jnp.float32), jnp.zeros(n, bool), key)
        carry = jax.lax.while_loop(lambda c: (c[0] < limit) & ~jnp.all(c[4]), body, carry)
        return carry[3]

    return evaluate


def eval_keys(config: DQNConfig, env_steps: int, num_agents: int):
    """`[num_agents]` keys for the evaluation at `env_steps`: distinct per agent and per evaluation."""
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), EVAL_KEY_SALT + env_steps)
    return jax.random.split(key, num_agents)
