"""Small building blocks shared by several families."""

from __future__ import annotations

import torch
from torch import nn


class Standardize(nn.Module):
    """z = (x - mean) / std with statistics fitted on the training data and saved with the weights.

    Keeping the statistics as buffers makes the model self-contained: ``predict``, the server and
    an exported ONNX graph take raw features. ``inverse`` maps standardized values back (regression
    targets). ``role`` says what the training paradigm fits it on: "input" (x) or "target" (y).

    Shapes: x (B, *shape) with ``shape`` the per-example shape given at construction.
    """

    def __init__(self, shape: tuple[int, ...] | int, *, role: str = "input", eps: float = 1e-8) -> None:
        super().__init__()
        if role not in ("input", "target"):
            raise ValueError(f"unknown role {role!r}; valid: input, target")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.role, self.eps = role, eps
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    @torch.no_grad()
    def fit(self, data: torch.Tensor) -> None:
        """Per-feature mean and std over the batch dimension; constant features get std 1."""
        data = data.reshape(len(data), *self.mean.shape).double()
        std = data.std(dim=0, unbiased=False)
        self.mean.copy_(data.mean(dim=0).float())
        self.std.copy_(torch.where(std > self.eps, std, torch.ones_like(std)).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean


class SinCosFeatures(nn.Module):
    """x -> [x; sin(2^k x); cos(2^k x)] for k < ``frequencies``, per coordinate: (B, D) -> (B, D (1 + 2F)).

    The positional encoding of Mildenhall et al. (2020) (Tancik et al. 2020 on why it works): an MLP on raw
    coordinates learns high-frequency functions of them slowly (spectral bias), and the denoiser or energy
    of a sharp low-dimensional mixture is such a function. ``frequencies=0`` is the identity.
    """

    def __init__(self, frequencies: int) -> None:
        super().__init__()
        if frequencies < 0:
            raise ValueError(f"frequencies is a count of octaves, >= 0; got {frequencies}")
        self.register_buffer("freqs", 2.0 ** torch.arange(frequencies, dtype=torch.float32), persistent=False)

    def out_features(self, dim: int) -> int:
        return dim * (1 + 2 * len(self.freqs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not len(self.freqs):
            return x
        angles = (x[:, :, None] * self.freqs).flatten(1)  # (B, D F): 2^k x_d
        return torch.cat([x, angles.sin(), angles.cos()], dim=1)


class DataInit:
    """Mixin for a module whose initial parameters come from statistics of the training inputs.

    The training paradigms call ``init_from_data(x)`` once, before the first step (through
    ``fit_standardizers``); a resumed run's checkpoint then overwrites what it set, as for any weight.
    """

    def init_from_data(self, x: torch.Tensor) -> None:
        raise NotImplementedError


def fit_standardizers(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> int:
    """Fit every ``Standardize`` in ``model`` on the training inputs (or targets) and initialise every
    ``DataInit`` module from the inputs; returns how many modules were set."""
    fitted = 0
    for m in model.modules():
        if isinstance(m, Standardize):
            source = x if m.role == "input" else y
            if source is not None:
                m.fit(source.float())
                fitted += 1
        elif isinstance(m, DataInit):
            m.init_from_data(x.float())
            fitted += 1
    return fitted
