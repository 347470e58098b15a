"""Q-networks in PyTorch, mirroring `jaxrl.agents.networks` (same module and layer names).

Layout differences from jaxrl (the parity suite converts between them):
  * images are NCHW `[B, 4, 84, 84]` (envpool's layout), flattened in (c, h, w) order;
  * `nn.Linear.weight` is `[out, in]`, `nn.Conv2d.weight` is `[out, in, kh, kw]` (OIHW).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import torch
from torch import nn

from jaxrl.config import DQNConfig


def _as_float(x):
    """Integer inputs (uint8 frames) become float32; floating inputs keep their precision."""
    return x if x.is_floating_point() else x.float()


class MLPTorso(nn.Module):
    """ReLU MLP. `x: [B, D] -> [B, hidden_sizes[-1]]`."""

    def __init__(self, in_features: int, hidden_sizes: Sequence[int]):
        super().__init__()
        self.layers = nn.ModuleDict()
        for i, width in enumerate(hidden_sizes):
            self.layers[f"dense_{i}"] = nn.Linear(in_features, width)
            in_features = width
        self.out_features = in_features

    def forward(self, x):
        x = _as_float(x.reshape(x.shape[0], -1))
        for layer in self.layers.values():
            x = torch.relu(layer(x))
        return x


class NatureCNNTorso(nn.Module):
    """Mnih et al. (2015) conv stack. `x: [B, C, 84, 84] -> [B, 3136]`."""

    def __init__(self, in_channels: int = 4, normalize_image: bool = True):
        super().__init__()
        self.normalize_image = normalize_image
        self.layers = nn.ModuleDict({
            "conv_0": nn.Conv2d(in_channels, 32, kernel_size=8, stride=4),
            "conv_1": nn.Conv2d(32, 64, kernel_size=4, stride=2),
            "conv_2": nn.Conv2d(64, 64, kernel_size=3, stride=1),
        })
        self.out_features = 64 * 7 * 7

    def forward(self, x):
        x = _as_float(x)
        if self.normalize_image:
            x = x / 255.0
        for layer in self.layers.values():
            x = torch.relu(layer(x))
        return x.reshape(x.shape[0], -1)


def _make_stream(layers: nn.ModuleDict, prefix: str, in_features: int, hidden_sizes, out: int):
    for i, width in enumerate(hidden_sizes):
        layers[f"{prefix}_hidden_{i}"] = nn.Linear(in_features, width)
        in_features = width
    layers[f"{prefix}_out"] = nn.Linear(in_features, out)


def _run_stream(layers: nn.ModuleDict, prefix: str, x):
    names = [n for n in layers if n.startswith(prefix + "_")]
    for name in names[:-1]:
        x = torch.relu(layers[name](x))
    return layers[names[-1]](x)


class QHead(nn.Module):
    """Plain head. `features: [B, F] -> q: [B, A]` (C51 logits `[B, A, N]` with `num_atoms = N > 1`)."""

    def __init__(self, in_features: int, num_actions: int, hidden_sizes: Sequence[int] = (), num_atoms: int = 1):
        super().__init__()
        self.num_actions, self.num_atoms = num_actions, num_atoms
        self.layers = nn.ModuleDict()
        _make_stream(self.layers, "q", in_features, hidden_sizes, num_actions * num_atoms)

    def forward(self, features):
        out = _run_stream(self.layers, "q", features)
        return out if self.num_atoms == 1 else out.reshape(out.shape[0], self.num_actions, self.num_atoms)


def dueling_aggregate(value, advantage, dim: int = -1):
    """`value: [B, 1]`, `advantage: [B, A]` -> `Q = V + A - mean(A)` (actions along `dim`)."""
    return value + advantage - advantage.mean(dim=dim, keepdim=True)


class DuelingHead(nn.Module):
    """Dueling head: separate value and advantage streams, `Q = V + A - mean(A)` (per atom for C51)."""

    def __init__(self, in_features: int, num_actions: int, hidden_sizes: Sequence[int] = (), num_atoms: int = 1):
        super().__init__()
        self.num_actions, self.num_atoms = num_actions, num_atoms
        self.layers = nn.ModuleDict()
        _make_stream(self.layers, "value", in_features, hidden_sizes, num_atoms)
        _make_stream(self.layers, "advantage", in_features, hidden_sizes, num_actions * num_atoms)

    def forward(self, features):
        value = _run_stream(self.layers, "value", features)
        advantage = _run_stream(self.layers, "advantage", features)
        if self.num_atoms == 1:
            return dueling_aggregate(value, advantage)
        return dueling_aggregate(value.reshape(-1, 1, self.num_atoms),
                                 advantage.reshape(-1, self.num_actions, self.num_atoms), dim=-2)


def support(v_min: float, v_max: float, num_atoms: int, dtype=torch.float32):
    return torch.linspace(v_min, v_max, num_atoms, dtype=dtype)


class QOutput(NamedTuple):
    """The network's outputs by name: `q_values [B, A]`, and C51's `logits [B, A, N]` (None without C51)."""

    q_values: torch.Tensor
    logits: Optional[torch.Tensor] = None


class QNetwork(nn.Module):
    def __init__(self, torso: nn.Module, head: nn.Module, v_min: float = 0.0, v_max: float = 0.0):
        super().__init__()
        self.torso, self.head = torso, head
        self.v_min, self.v_max = v_min, v_max

    def forward(self, obs) -> QOutput:
        out = self.head(self.torso(obs))
        if self.head.num_atoms == 1:
            return QOutput(out)
        z = support(self.v_min, self.v_max, self.head.num_atoms, out.dtype)
        return QOutput((torch.softmax(out, dim=-1) * z).sum(-1), out)


def resolve_network_kind(config: DQNConfig, obs_shape: Sequence[int]) -> str:
    if config.network != "auto":
        return config.network
    return "cnn" if len(obs_shape) == 3 else "mlp"


def make_network(config: DQNConfig, num_actions: int, obs_shape: Sequence[int]) -> QNetwork:
    """`obs_shape`: `[D]` for the MLP, `[C, H, W]` for the CNN."""
    if resolve_network_kind(config, obs_shape) == "cnn":
        torso, head_hidden = NatureCNNTorso(obs_shape[0], config.normalize_image), (512,)
    else:
        in_features = 1
        for d in obs_shape:
            in_features *= d
        torso, head_hidden = MLPTorso(in_features, config.hidden_sizes), ()
    head_cls = DuelingHead if config.dueling else QHead
    atoms = config.num_atoms if config.distributional else 1
    return QNetwork(torso, head_cls(torso.out_features, num_actions, head_hidden, atoms), config.v_min, config.v_max)
