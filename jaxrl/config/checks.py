"""Validation helpers shared by the configs: one `ValueError` naming the field, its value and what is accepted."""

from __future__ import annotations

import dataclasses
import math

INT32_MAX = 2**31 - 1  # counters, slots and steps are int32 inside the compiled programs


def fail(name, value, accepted, owner: str = "DQNConfig"):
    raise ValueError(f"{owner}.{name}={value!r} is invalid: expected {accepted}")


def check_type(cfg):
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        expected = {"int": int, "float": (int, float), "bool": bool, "str": str}.get(str(f.type))
        if expected is None:
            continue
        if isinstance(value, bool) and expected is not bool:
            fail(f.name, value, f"a {f.type}, not a bool", type(cfg).__name__)
        if not isinstance(value, expected):
            fail(f.name, value, f"a {f.type}", type(cfg).__name__)
        if f.type == "float" and not math.isfinite(value):
            fail(f.name, value, "a finite number", type(cfg).__name__)
        if f.type == "int" and abs(value) > INT32_MAX and f.name != "seed":
            fail(f.name, value, f"at most {INT32_MAX:,} (an int32 inside the compiled program)", type(cfg).__name__)


def positive_int(cfg, *names):
    for name in names:
        if getattr(cfg, name) <= 0:
            fail(name, getattr(cfg, name), "an integer > 0", type(cfg).__name__)


def positive_float(cfg, *names):
    for name in names:
        value = getattr(cfg, name)
        if not value > 0 or not math.isfinite(value):
            fail(name, value, "a finite float > 0", type(cfg).__name__)


def choice(cfg, name, choices):
    if getattr(cfg, name) not in choices:
        fail(name, getattr(cfg, name), "one of " + ", ".join(repr(c) for c in choices), type(cfg).__name__)
