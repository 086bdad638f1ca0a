"""Networks of the self-supervised methods: one encoder interface, a projector, an optional predictor.

Every method trains the same ``SSLModel``: an encoder f (the representation h = f(x) that evaluation
probes and ``/embed`` serves), a projector g (z = g(h), where the loss is computed: Chen et al. 2020,
Sec. 4.2, show h probes better than z) and, for BYOL and SimSiam, a predictor q (p = q(z)). The
encoders:

- ``ConvEncoder``: images (B, C, H, W); stages of 3x3 conv -> BatchNorm -> ReLU -> 2x2 max-pool (the
  cnn family's LeNet-style stage), the last one globally average-pooled: h in R^{channels[-1]};
- ``MLPEncoder``: tables (B, F); standardized with the train split's statistics, then Linear ->
  BatchNorm -> ReLU layers: h in R^{hidden[-1]};
- ``SeriesEncoder``: time series (B, C, L); the FCN of Wang et al. (2017) (conv k = 8, 5, 3 -> BN ->
  ReLU, "same" padding) with global average pooling over time: h in R^{filters[-1]}.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.layers import Standardize


class ConvEncoder(nn.Module):
    """Shapes: x (B, C, H, W) -> h (B, channels[-1]); H and W must survive len(channels) - 1 halvings."""

    def __init__(self, *, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, c in enumerate(channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = c
        self.net = nn.Sequential(*layers)
        self.out_features = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=(-2, -1))  # (B, C', H', W') -> (B, C')


class MLPEncoder(nn.Module):
    """Shapes: x (B, F) -> h (B, hidden[-1])."""

    def __init__(self, *, in_features: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = [Standardize(in_features)]  # fitted on the train split by the paradigm
        d = in_features
        for w in hidden:
            layers += [nn.Linear(d, w, bias=False), nn.BatchNorm1d(w), nn.ReLU()]
            d = w
        self.net = nn.Sequential(*layers)
        self.out_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))  # (B, F) -> (B, hidden[-1])


class SeriesEncoder(nn.Module):
    """FCN (Wang et al. 2017) without its classifier. Shapes: x (B, C, L) -> h (B, filters[-1])."""

    def __init__(self, *, in_channels: int, filters: tuple[int, ...], kernel_sizes: tuple[int, ...]) -> None:
        super().__init__()
        if len(filters) != len(kernel_sizes):
            raise ValueError(f"filters {filters} and kernel_sizes {kernel_sizes} must have the same length")
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        c_in = in_channels
        for c, k in zip(filters, kernel_sizes, strict=True):
            self.convs.append(nn.Conv1d(c_in, c, k))
            self.bns.append(nn.BatchNorm1d(c))
            c_in = c
        self.out_features = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, bn in zip(self.convs, self.bns, strict=True):
            k = conv.kernel_size[0]
            x = F.relu(bn(conv(F.pad(x, ((k - 1) // 2, k - 1 - (k - 1) // 2)))))  # (B, C, L): "same"
        return x.mean(dim=-1)  # (B, C)


def mlp_head(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    """Linear -> BatchNorm -> ReLU -> Linear: the projector of SimCLR/BYOL, the predictor of BYOL/SimSiam."""
    return nn.Sequential(
        nn.Linear(d_in, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, d_out)
    )


class SSLModel(nn.Module):
    """h = f(x), z = g(h), p = q(z). forward returns (h, z) or, with a predictor, (h, z, p).

    Args:
        encoder: f, any module with ``out_features``.
        proj_hidden, proj_dim: width and output of the projector g.
        pred_hidden: width of the predictor q (BYOL, SimSiam); 0 = no predictor.
    """

    def __init__(self, *, encoder: nn.Module, proj_hidden: int, proj_dim: int, pred_hidden: int = 0) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = mlp_head(encoder.out_features, proj_hidden, proj_dim)
        self.predictor = mlp_head(proj_dim, pred_hidden, proj_dim) if pred_hidden > 0 else None
        self.embed_dim = encoder.out_features

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.encoder(x)  # (B, K) the representation
        z = self.projector(h)  # (B, D) where the loss lives
        if self.predictor is None:
            return h, z
        return h, z, self.predictor(z)  # p: (B, D)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """h = f(x), (B, K): what the probes and /embed see."""
        return self.encoder(x)
