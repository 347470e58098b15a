"""`DQNConfig.grid`'s entries `NAME=V1,V2,...` as the grid's points (plain Python)."""

from __future__ import annotations

import itertools

from jaxrl.config.checks import fail

TRACED_FIELDS = ("learning_rate", "gamma", "egreedy", "egreedy_final", "egreedy_decay", "target_update_frequency")
"""Hyperparameters that are traced values in the compiled program, so a grid over them is one program."""


def grid_points(grid) -> list[dict]:
    """`{field: value}` dicts, the cartesian product of the entries (first entry slowest); `[{}]` for no entries.
    Raises `ValueError` for a malformed entry."""
    axes = []
    for entry in grid:
        name, sep, values = str(entry).partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in TRACED_FIELDS:
            fail("grid", entry, "entries NAME=V1,V2,... with NAME one of " + ", ".join(TRACED_FIELDS))
        if name in (a[0] for a in axes):
            fail("grid", entry, f"each field once ({name} repeats)")
        cast = int if name == "target_update_frequency" else float
        try:
            parsed = tuple(cast(v) for v in values.split(",") if v.strip())
        except ValueError:
            fail("grid", entry, f"comma-separated {cast.__name__} values")
        if not parsed:
            fail("grid", entry, "at least one value")
        axes.append((name, parsed))
    return [dict(zip([a[0] for a in axes], combo)) for combo in itertools.product(*[a[1] for a in axes])]
