"""Backbones of the meta-learning family: nn.Modules only.

- :class:`Conv4` (Vinyals et al. 2016; Finn et al. 2017; Snell et al. 2017): 4 blocks of
  conv 3x3 (``hidden`` filters, 64 in the papers) -> norm -> ReLU -> max-pool 2; a 28x28 Omniglot image
  becomes a ``hidden``-dimensional embedding (1x1 after the 4 pools).
- :class:`SineMLP` (Finn et al. 2017, sec. 5.1): 1 -> 40 -> 40 -> 1 with ReLU.
- :class:`FewShotNet`: a backbone and an optional linear head: ``forward(x)`` is the head's logits
  (MAML, FOMAML, Reptile, ANIL: ``out_features`` = n_way, or 1 for regression) or the embedding
  (ProtoNets, Matching Networks: no head); Baseline++ has a cosine head over every train class.

Normalization: ``norm="episode"`` normalizes every batch with its own statistics, in training and at
test time (:class:`EpisodeNorm`), as Finn et al.'s MAML code does (transductive: an episode's
queries are normalized together); ``norm="batch"`` is BatchNorm with running statistics (metric
methods, Baseline++); ``norm="none"``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.registry import RegistryError, choices_error

NORMS = ("episode", "batch", "none")


class EpisodeNorm(nn.Module):
    """Batch normalization with the batch's own statistics always (no running averages).

    y = gamma * (x - mean_B(x)) / sqrt(var_B(x) + eps) + beta, mean and var over (batch, H, W).
    Shapes: x (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
        var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)  # (1, C, 1, 1)
        x_hat = (x - mean) / torch.sqrt(var + self.eps)
        return x_hat * self.weight[:, None, None] + self.bias[:, None, None]


def make_norm(norm: str, channels: int) -> nn.Module:
    if norm not in NORMS:
        raise RegistryError(choices_error("norm", norm, NORMS))
    if norm == "episode":
        return EpisodeNorm(channels)
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


class Conv4(nn.Module):
    """[conv 3x3 -> norm -> ReLU -> max-pool 2] x 4, flattened. Shapes: (B, C, H, W) -> (B, out_dim)."""

    def __init__(self, *, in_channels: int, image_size: int, hidden: int = 64, norm: str = "episode") -> None:
        super().__init__()
        blocks, c, size = [], in_channels, image_size
        for _ in range(4):
            blocks += [nn.Conv2d(c, hidden, 3, padding=1), make_norm(norm, hidden), nn.ReLU(), nn.MaxPool2d(2)]
            c, size = hidden, size // 2
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = hidden * max(size, 1) ** 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).flatten(1)  # (B, hidden * s * s)


class SineMLP(nn.Module):
    """x -> [Linear -> ReLU] x len(hidden). Shapes: (B, in_features) -> (B, hidden[-1])."""

    def __init__(self, *, in_features: int, hidden: tuple[int, ...] = (40, 40)) -> None:
        super().__init__()
        layers, d = [], in_features
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.net = nn.Sequential(*layers)
        self.out_dim = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CosineHead(nn.Module):
    """Baseline++'s classifier (Chen et al. 2019): logits_c = s * cos(f, w_c). Shapes: (B, D) -> (B, C)."""

    def __init__(self, in_features: int, num_classes: int, *, scale: float = 10.0) -> None:
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.randn(num_classes, in_features) * in_features**-0.5)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.scale * F.normalize(f, dim=-1) @ F.normalize(self.weight, dim=-1).T  # (B, C)


class FewShotNet(nn.Module):
    """A backbone (``body``) and a head: linear, cosine or none (the embedding is the output).

    Shapes: x (B, *input_shape) -> (B, out_features) logits/predictions, or (B, body.out_dim) embeddings.
    """

    def __init__(self, body: nn.Module, *, out_features: int | None, head: str = "linear") -> None:
        super().__init__()
        self.body = body
        if head == "none" or out_features is None:
            self.head: nn.Module = nn.Identity()
        elif head == "cosine":
            self.head = CosineHead(body.out_dim, out_features)
        else:
            self.head = nn.Linear(body.out_dim, out_features)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def backbone(*, input_shape: tuple[int, ...], hidden: int, norm: str) -> nn.Module:
    """Conv-4 for images (C, H, W), the 2 x ``hidden`` MLP of the sinusoid for vectors (D,)."""
    if len(input_shape) == 3:
        return Conv4(in_channels=input_shape[0], image_size=input_shape[-1], hidden=hidden, norm=norm)
    if len(input_shape) == 1:
        return SineMLP(in_features=input_shape[0], hidden=(hidden, hidden))
    raise RegistryError(f"input_shape must be (C, H, W) images or (D,) vectors, got {tuple(input_shape)}")
