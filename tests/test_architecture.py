"""The layers, read from the imports with `ast`: arrows point down only.

    config  ->  agents / replay / envs  ->  runners  ->  host  ->  cli

- config imports nothing of JAX (jax, flax, optax, chex) or torch, and no other jaxrl layer;
- agents, replay and envs never import runners, host or cli; runners never import host or cli; host never cli;
- nothing in jaxrl imports torch or torch_reference;
- torch_reference imports only `jaxrl.config` of jaxrl (plain data), or parity would prove nothing;
- parity_tests import agents, replay, envs and config, not runners, host or cli;
- no module of jaxrl is over `MAX_LINES` lines.
Imports inside functions count too (a lazy import is still an arrow).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"config": 0, "agents": 1, "replay": 1, "envs": 1, "runners": 2, "host": 3, "cli": 4, "__main__": 4}
JAX = ("jax", "jaxlib", "flax", "optax", "chex")
MAX_LINES = 300


def imports(source: str) -> set[str]:
    """Absolute module names a source imports (`from a.b import c` gives `a.b` and `a.b.c`)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def layer(module: str) -> str | None:
    """`jaxrl.agents.losses` -> "agents"; `jaxrl.cli` -> "cli"; `jaxrl` itself -> None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "jaxrl" and len(parts) > 1 and parts[1] in LAYERS else None


def violations(path: str, source: str) -> list[str]:
    """The forbidden arrows of one file (`path` relative to the repo root)."""
    parts = Path(path).with_suffix("").parts
    found = imports(source)
    bad = []
    top = {m.split(".")[0] for m in found}
    if parts[0] == "jaxrl":
        own = parts[1] if len(parts) > 1 and parts[1] in LAYERS else None
        bad += [f"{path} imports {m}" for m in sorted(top & {"torch", "torch_reference"})]
        if own == "config":
            bad += [f"{path} (config) imports {m}" for m in sorted(top & set(JAX))]
            bad += [f"{path} (config) imports {m}" for m in sorted(found) if layer(m) not in (None, "config")
                    and m.startswith("jaxrl.")]
        if own is not None:
            bad += [f"{path} ({own}) imports {m} ({layer(m)})" for m in sorted(found)
                    if layer(m) and LAYERS[layer(m)] > LAYERS[own]]
    elif parts[0] == "torch_reference":
        bad += [f"{path} imports {m}: torch_reference may import jaxrl.config only" for m in sorted(found)
                if m.split(".")[0] == "jaxrl" and layer(m) != "config"]
    elif parts[0] == "parity_tests":
        bad += [f"{path} imports {m}: parity tests compare agents/replay/config, not {layer(m)}"
                for m in sorted(found) if layer(m) in ("runners", "host", "cli", "__main__")]
    return bad


def python_files(*folders):
    for folder in folders:
        for p in sorted((ROOT / folder).rglob("*.py")):
            yield p.relative_to(ROOT).as_posix(), p.read_text()


def test_no_forbidden_arrows():
    bad = [v for path, src in python_files("jaxrl", "torch_reference", "parity_tests") for v in violations(path, src)]
    assert not bad, "\n".join(bad)


def test_layers_are_visible_from_ls():
    assert {p.name for p in (ROOT / "jaxrl").iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "config", "agents", "replay", "envs", "runners", "host"}


def test_module_sizes():
    sizes = {path: src.count("\n") for path, src in python_files("jaxrl")}
    assert not {p: n for p, n in sizes.items() if n > MAX_LINES}, sizes


@pytest.mark.parametrize("path, source, expected", [
    ("jaxrl/config/x.py", "import jax\n", "(config) imports jax"),
    ("jaxrl/config/x.py", "from jaxrl.agents.losses import td_loss\n", "(config) imports jaxrl.agents.losses"),
    ("jaxrl/agents/x.py", "def f():\n    from jaxrl.runners.gymnax import make_train\n", "(agents) imports jaxrl.runners"),
    ("jaxrl/replay/x.py", "from jaxrl.host import rundir\n", "(replay) imports jaxrl.host"),
    ("jaxrl/runners/x.py", "import jaxrl.cli\n", "(runners) imports jaxrl.cli"),
    ("jaxrl/host/x.py", "from jaxrl import cli\n", "(host) imports jaxrl.cli"),
    ("jaxrl/host/x.py", "import torch\n", "imports torch"),
    ("torch_reference/x.py", "from jaxrl.agents.losses import td_loss\n", "may import jaxrl.config only"),
    ("parity_tests/x.py", "from jaxrl.runners.gymnax import make_train\n", "not runners"),
])
def test_the_check_catches_each_kind_of_arrow(path, source, expected):
    assert any(expected in v for v in violations(path, source)), violations(path, source)


def test_allowed_arrows_pass():
    assert not violations("jaxrl/runners/x.py", "from jaxrl.agents.dqn import make_agent\nimport jax\n")
    assert not violations("jaxrl/host/x.py", "from jaxrl.runners.gymnax import make_train\n")
    assert not violations("torch_reference/x.py", "from jaxrl.config import DQNConfig\nimport torch\n")
    assert not violations("parity_tests/x.py", "from jaxrl.replay.ring import make_buffer\n")


def test_torch_reference_mirrors_jaxrl_module_names():
    """Every torch_reference module has a jaxrl module of the same name (the concept it mirrors)."""
    jaxrl_names = {p.stem for p in (ROOT / "jaxrl").rglob("*.py")}
    torch_names = {p.stem for p in (ROOT / "torch_reference").glob("*.py")} - {"__init__"}
    assert torch_names <= jaxrl_names, sorted(torch_names - jaxrl_names)
