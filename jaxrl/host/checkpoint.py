"""Checkpoints: one msgpack file holding a state pytree and its metadata, written atomically.

    save_checkpoint(path, state, meta)            temp file in the same directory, fsync, rename, fsync dir
    load_checkpoint(path, template, expect=...)   -> (state, meta); `CheckpointError` naming the file and
                                                   the problem (missing, truncated/corrupt, other jaxrl
                                                   version, other config, other shapes)

`meta` is plain JSON-able data (config dict, counters, versions). The state is stored with
`flax.serialization.to_state_dict`, so any pytree of arrays (LearnerState, buffers) works; `None`
leaves (e.g. a buffer left out) stay `None`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jax
import numpy as np
from flax import serialization

CHECKPOINT_FILE = "checkpoint.msgpack"
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the reason."""


def save_checkpoint(path, state, meta: dict) -> Path:
    path = Path(path)
    payload = {"format": FORMAT, "meta": _encode(meta),
               "state": serialization.to_state_dict(jax.device_get(state))}
    data = serialization.msgpack_serialize(payload)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def read_meta(path) -> dict:
    """Only the metadata (still reads the file)."""
    return _read(Path(path))["meta"]


def verify_checkpoint(path, expect: dict) -> dict:
    """Read the file and check its metadata against `expect` (raises `CheckpointError`); returns the meta."""
    path = Path(path)
    return _check_meta(path, _read(path)["meta"], expect)


def _check_meta(path: Path, meta: dict, expect: dict) -> dict:
    for key, wanted in expect.items():
        found = meta.get(key)
        if found != _decode(_encode(wanted)):
            raise CheckpointError(f"{path}: checkpoint {key} does not match: {_diff(found, wanted)}")
    return meta


def load_checkpoint(path, template, *, expect: dict | None = None):
    """Restore a state shaped like `template`; `expect`: meta keys that must match exactly."""
    path = Path(path)
    payload = _read(path)
    meta = _check_meta(path, payload["meta"], expect or {})
    try:
        state = serialization.from_state_dict(template, payload["state"])
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: checkpoint does not fit this run's state: {e}") from None
    bad = [f"{'/'.join(map(str, p))}: {np.shape(a)} vs {np.shape(b)}"
           for (p, a), b in zip(_flat(state), jax.tree_util.tree_leaves(template)) if np.shape(a) != np.shape(b)]
    if bad:
        raise CheckpointError(f"{path}: checkpoint shapes differ from this run's: {bad[0]}")
    return state, meta


def _read(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint there")
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
    except Exception as e:  # msgpack raises several types for truncated/corrupt data
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "state" not in payload:
        raise CheckpointError(f"{path}: not a jaxrl checkpoint (format {FORMAT})")
    payload["meta"] = _decode(payload["meta"])
    return payload


def _flat(tree):
    return jax.tree_util.tree_flatten_with_path(tree)[0]


def _diff(found, wanted) -> str:
    if isinstance(found, dict) and isinstance(wanted, dict):
        keys = sorted(k for k in set(found) | set(wanted) if found.get(k) != _decode(_encode(wanted.get(k))))
        return ", ".join(f"{k}={found.get(k)!r} in the file vs {wanted.get(k)!r} now" for k in keys[:4])
    return f"{found!r} in the file vs {wanted!r} now"


def _encode(x):
    """JSON-like data -> msgpack-safe (tuples become lists)."""
    if isinstance(x, dict):
        return {str(k): _encode(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_encode(v) for v in x]
    return x


def _decode(x):
    if isinstance(x, dict):
        return {k: _decode(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_decode(v) for v in x]
    return x


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived; the run checkpointed at the end of the current chunk and stopped
    (`jaxrl.host.driver`)."""


class Diverged(Exception):
    """Every agent hit a non-finite loss or parameter; the last finite state is checkpointed."""


def divergence_report(diverged_at, seen: set) -> list[str]:
    """One line per seed that newly diverged (`diverged_at`: `[S]`, -1 = healthy); `seen` is updated."""
    lines = []
    for s, step in enumerate(np.asarray(diverged_at).tolist()):
        if step >= 0 and s not in seen:
            seen.add(s)
            lines.append(f"seed {s}: non-finite loss or parameters at env step {step:,}; its updates stopped there "
                         "(its parameters are the last finite ones), the other seeds go on")
    return lines


def raise_if_all_diverged(diverged_at, out) -> None:
    steps = np.asarray(diverged_at)
    if (steps >= 0).all():
        raise Diverged(f"every seed diverged (non-finite loss or parameters; first at env step {int(steps.min()):,}); "
                       f"the last finite state is in {Path(out) / CHECKPOINT_FILE}")

