"""The agent: pure functions of parameters and batches (no env, no host).

    types.py        `Transition` (a stored transition), `HParams` (one agent's traced hyperparameters)
    networks.py     MLP and Nature-CNN torsos; plain, dueling and C51 heads
    losses.py       targets and losses, rlax style (double DQN, n-step, C51 projection)
    exploration.py  epsilon schedules and epsilon-greedy acting
    optim.py        Adam / RMSProp with torch semantics, gradient clamping
    dqn.py          `make_agent`: network + optimizer + the update; the NaN/Inf guard; the target schedule
    tabular.py      tabular Q-learning's update rules
"""
