"""Replay, pure and jittable: frozen state pytrees and `init / add / sample / can_sample / get`.

    ring.py     the flat ring buffer (any transition pytree)
    frames.py   the Atari frame buffer (one 84x84 frame per row, stacks rebuilt at sample time)
    sampler.py  the replay: a buffer (ring or frames) plus uniform or prioritized, one-step or n-step sampling;
                the sum-tree lives in its state, so prioritized replay adds only `set_priorities` (flashbax style);
                `make_replay_for` picks the buffer from the observation kind, with one `add_step` for both
    sumtree.py  the sum-tree behind prioritized replay
"""
