"""Few-shot adapters on a frozen pre-trained backbone (TSA, Li, Liu & Bilen 2022), fitted per task.

The backbone f_theta (Conv-4) stays fixed; a task gets a few new parameters, trained on its support
set only and then thrown away (the served weights never change):

- ``film``: after every ReLU of block l, h_l <- gamma_l * h_l + beta_l (per channel; gamma = 1, beta = 0
  at the start, so the adapted network starts as the pre-trained one; Perez et al. 2018's FiLM);
- ``residual``: TSA's parallel adapters, conv_l(h) <- conv_l(h) + alpha_l * h (alpha_l a 1x1
  convolution, C_out x C_in, zero at the start; Li et al. 2022, eq. 3, "parallel" configuration);
- both add TSA's pre-classifier alignment z <- A f(x), A (D, D) = I at the start (Li et al. eq. 5).

``embed(body, x, params)`` is f with the adapters inserted, written as a loop over the Conv-4 blocks
(``model.Conv4.blocks``) so the module itself is not touched (no hooks, no copies).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ADAPTERS = ("none", "film", "residual")


def init_adapters(body: nn.Module, kind: str) -> dict[str, torch.Tensor]:
    """The identity adapters of ``kind`` for a Conv-4 ``body`` (leaf tensors that require grad)."""
    blocks = getattr(body, "blocks", None)
    if blocks is None:
        raise ValueError(f"adapter={kind!r} needs a Conv-4 image backbone; this model's backbone has no conv blocks")
    params: dict[str, torch.Tensor] = {}
    for i, m in enumerate(blocks):
        if kind == "residual" and isinstance(m, nn.Conv2d):
            params[f"alpha{i}"] = torch.zeros(m.out_channels, m.in_channels, 1, 1)  # (C_out, C_in, 1, 1)
        if kind == "film" and isinstance(m, nn.ReLU):
            c = next(b.out_channels for b in reversed(blocks[:i]) if isinstance(b, nn.Conv2d))
            params[f"gamma{i}"], params[f"beta{i}"] = torch.ones(c), torch.zeros(c)
    params["align"] = torch.eye(body.out_dim)  # (D, D)
    return {k: v.requires_grad_(True) for k, v in params.items()}


def embed(body: nn.Module, x: torch.Tensor, params: dict[str, torch.Tensor] | None) -> torch.Tensor:
    """f(x) with the adapters ``params`` (None: the plain backbone). Shapes: (B, C, H, W) -> (B, D)."""
    if params is None:
        return body(x)
    h = x
    for i, m in enumerate(body.blocks):
        out = m(h)
        if f"alpha{i}" in params:
            out = out + F.conv2d(h, params[f"alpha{i}"])  # 1x1 beside the 3x3 (padding 1): same size
        if f"gamma{i}" in params:
            out = out * params[f"gamma{i}"][:, None, None] + params[f"beta{i}"][:, None, None]
        h = out
    return h.flatten(1) @ params["align"].T  # (B, D)
