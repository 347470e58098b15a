"""Replay, pure and jittable: frozen state pytrees and `init / add / sample / can_sample / get`.

    ring.py     the flat ring buffer (any transition pytree)
    frames.py   the Atari frame buffer (one 84x84 frame per row, stacks rebuilt at sample time)
    sampler.py  uniform or prioritized, one-step or n-step sampling over a ring buffer
    sumtree.py  the sum-tree behind prioritized replay
"""
