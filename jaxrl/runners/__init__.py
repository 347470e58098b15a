"""The compiled programs: pure functions of a state pytree, built from agents, replay and envs.

    gymnax.py   `make_train(config) -> train(key)`: a whole gymnax run in one `lax.scan`
    atari.py    the envpool Atari learner step and its two loops (host, `env.xla()`)
    grid.py     seeds x hyperparameter grid as one traced sweep axis, sharded over devices
    tabular.py  tabular Q-learning on FrozenLake, vmapped over seeds x (alpha, gamma)
"""
