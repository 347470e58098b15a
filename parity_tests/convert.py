"""Weight conversion between jaxrl (Flax) and torch_reference (PyTorch) Q-networks.

Both sides name layers identically (`torso/dense_0`, `torso/conv_1`, `head/value_hidden_0`, ...). What differs:
  * Dense: Flax kernel `[in, out]`  <->  torch weight `[out, in]` (transpose);
  * Conv:  Flax kernel HWIO `[kh, kw, in, out]`  <->  torch weight OIHW `[out, in, kh, kw]`;
  * the first Dense after the CNN: Flax flattens `[B, 7, 7, 64]` in (h, w, c) order, torch flattens
    `[B, 64, 7, 7]` in (c, h, w) order, so that kernel's input rows are permuted;
  * inputs: Flax takes NHWC, torch NCHW (`nhwc_to_nchw`).
"""

from __future__ import annotations

import numpy as np
import torch

CNN_OUT_HWC = (7, 7, 64)


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))


def _flat_params(params: dict) -> dict:
    """{"params": {"torso": {"dense_0": {"kernel", "bias"}}}} -> {"torso.dense_0": {...}}."""
    p = params["params"] if "params" in params else params
    return {f"{part}.{layer}": leaves for part in ("torso", "head") for layer, leaves in p.get(part, {}).items()}


def _is_cnn_flatten_kernel(part: str, kernel_in: int, is_cnn: bool) -> bool:
    """The head's first Dense after the CNN: its input rows follow the flatten order of the conv output."""
    return is_cnn and part == "head" and kernel_in == int(np.prod(CNN_OUT_HWC))


def flax_to_torch(params: dict, torch_net: torch.nn.Module) -> None:
    """Copy Flax params into `torch_net` (in place)."""
    flat = _flat_params(params)
    is_cnn = any(".conv_" in n for n in flat)
    state = {}
    for name, leaves in flat.items():
        part, layer = name.split(".")
        kernel = np.asarray(leaves["kernel"])
        if kernel.ndim == 4:  # HWIO -> OIHW
            weight = np.transpose(kernel, (3, 2, 0, 1))
        else:
            if _is_cnn_flatten_kernel(part, kernel.shape[0], is_cnn):  # rows (h, w, c) -> (c, h, w)
                kernel = kernel.reshape(*CNN_OUT_HWC, -1).transpose(2, 0, 1, 3).reshape(kernel.shape)
            weight = kernel.T
        state[f"{part}.layers.{layer}.weight"] = torch.from_numpy(np.array(weight))
        state[f"{part}.layers.{layer}.bias"] = torch.from_numpy(np.array(leaves["bias"]))
    missing = set(torch_net.state_dict()) ^ set(state)
    if missing:
        raise KeyError(f"flax_to_torch: layer names differ: {sorted(missing)}")
    torch_net.load_state_dict(state)


def torch_to_flax(torch_net: torch.nn.Module) -> dict:
    """The Flax params tree equal to `torch_net`'s weights."""
    out: dict = {"torso": {}, "head": {}}
    sd = {k: v.detach().cpu().numpy() for k, v in torch_net.state_dict().items()}
    is_cnn = any(".conv_" in k for k in sd)
    for key, value in sd.items():
        part, _, layer, kind = key.split(".")
        entry = out[part].setdefault(layer, {})
        if kind == "bias":
            entry["bias"] = value.copy()
        elif value.ndim == 4:  # OIHW -> HWIO
            entry["kernel"] = np.ascontiguousarray(np.transpose(value, (2, 3, 1, 0)))
        else:
            kernel = value.T
            if _is_cnn_flatten_kernel(part, kernel.shape[0], is_cnn):  # rows (c, h, w) -> (h, w, c)
                h, w, c = CNN_OUT_HWC
                kernel = kernel.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(kernel.shape)
            entry["kernel"] = np.ascontiguousarray(kernel)
    return {"params": out}
