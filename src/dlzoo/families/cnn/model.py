"""Convolutional classifiers: 1-D networks for time series and a LeNet-style 2-D network for digits.

Time-series classification (input (B, C, L): C channels, L time steps):

* FCN, the fully convolutional network of Wang, Yan & Oates (2017), "Time series classification from
  scratch with deep neural networks: a strong baseline", IJCNN, Fig. 1(b): three blocks
  Conv1d(k = 8, 5, 3; 128, 256, 128 filters) -> BatchNorm -> ReLU, global average pooling, softmax.
* ResNet, same paper Fig. 1(c): three residual blocks (64, 128, 128 filters), each three such convs
  (k = 8, 5, 3) with a shortcut (Eq. 3: h = ReLU(F(x) + shortcut(x))); shortcut = 1x1 conv + BN
  when the width changes, BN alone otherwise (as in Fawaz et al. 2019's reference code).
* InceptionTime (Fawaz et al. 2020, "InceptionTime: finding AlexNet for time series classification",
  DMKD, Fig. 1-2): a 1x1 bottleneck, three parallel convs (kernel sizes 40, 20, 10) and a
  max-pool -> 1x1 branch, concatenated, BN, ReLU; a residual shortcut every third module.

Convolutions use "same" padding as the reference Keras code: total k - 1, floor half on the left.

Digits (input (B, 1, H, W), H and W divisible by 4):

* LeNet-style (LeCun et al. 1998, "Gradient-based learning applied to document recognition", Fig. 2):
  two conv(k x k, "same") -> BN -> ReLU -> 2x2 max-pool stages, then FC -> ReLU -> dropout -> FC.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SameConv1d(nn.Module):
    """Conv1d with Keras "same" padding: output length = input length for any kernel size.

    Shapes: x (B, C_in, L) -> (B, C_out, L)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True) -> None:
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size - 1 - (kernel_size - 1) // 2)  # (left, right)
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.pad))  # (B, C_out, L)


class ConvBNReLU1d(nn.Module):
    """h = ReLU(BN(W * x + b)), the basic block of FCN (Wang et al. 2017, Eq. 1-2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, relu: bool = True) -> None:
        super().__init__()
        self.conv = SameConv1d(in_channels, out_channels, kernel_size)
        self.bn = nn.BatchNorm1d(out_channels)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn(self.conv(x))  # (B, C_out, L)
        return F.relu(h) if self.relu else h


class GAPHead(nn.Module):
    """Global average pooling over time, then a linear layer to class logits. (B, C, L) -> (B, K)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(h.mean(dim=-1))  # (B, C) -> (B, K)


class FCN(nn.Module):
    """Fully convolutional network (Wang et al. 2017). Shapes: x (B, C, L) -> logits (B, K).

    Args:
        in_channels: C, variables of the series (first axis of input_shape); filled from the data when unset.
        num_classes: K, number of classes (logits of the head); filled from the data when unset.
        filters: output channels of the conv -> BN -> ReLU blocks, input to output (paper: 128, 256, 128).
        kernel_sizes: kernel length of each block, same length as filters (paper: 8, 5, 3).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        filters: tuple[int, ...] = (128, 256, 128),
        kernel_sizes: tuple[int, ...] = (8, 5, 3),
    ) -> None:
        super().__init__()
        if len(filters) != len(kernel_sizes):
            raise ValueError(f"filters {filters} and kernel_sizes {kernel_sizes} must have the same length")
        widths = (in_channels, *filters)
        self.blocks = nn.Sequential(*[ConvBNReLU1d(widths[i], widths[i + 1], k) for i, k in enumerate(kernel_sizes)])
        self.head = GAPHead(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))  # (B, C, L) -> (B, 128, L) -> (B, K)


class ResidualBlock1d(nn.Module):
    """Wang et al. (2017) Eq. 3: h = ReLU(F(x) + shortcut(x)), F = three conv-BN(-ReLU) layers."""

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: tuple[int, ...] = (8, 5, 3)) -> None:
        super().__init__()
        widths = (in_channels, *[out_channels] * len(kernel_sizes))
        last = len(kernel_sizes) - 1
        self.body = nn.Sequential(
            *[ConvBNReLU1d(widths[i], widths[i + 1], k, relu=i < last) for i, k in enumerate(kernel_sizes)]
        )
        if in_channels != out_channels:  # projection: 1x1 conv + BN
            self.shortcut = nn.Sequential(nn.Conv1d(in_channels, out_channels, 1), nn.BatchNorm1d(out_channels))
        else:
            self.shortcut = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))  # (B, C_out, L)


class ResNet1d(nn.Module):
    """ResNet for time series (Wang et al. 2017). Shapes: x (B, C, L) -> logits (B, K).

    Args:
        in_channels: C, variables of the series (first axis of input_shape); filled from the data when unset.
        num_classes: K, number of classes (logits of the head); filled from the data when unset.
        filters: output channels of each residual block, one block per entry (paper: 64, 128, 128).
        kernel_sizes: kernel lengths of the convs inside every block, one conv per entry (paper: 8, 5, 3).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        filters: tuple[int, ...] = (64, 128, 128),
        kernel_sizes: tuple[int, ...] = (8, 5, 3),
    ) -> None:
        super().__init__()
        widths = (in_channels, *filters)
        self.blocks = nn.Sequential(
            *[ResidualBlock1d(widths[i], widths[i + 1], kernel_sizes) for i in range(len(filters))]
        )
        self.head = GAPHead(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))  # (B, C, L) -> (B, 128, L) -> (B, K)


class InceptionModule(nn.Module):
    """One Inception module (Fawaz et al. 2020, Fig. 2). (B, C_in, L) -> (B, 4 * filters, L).

    z = bottleneck(x)                            # 1x1 conv to `bottleneck` channels (if C_in > 1)
    h = [conv_k(z) for k in kernel_sizes] ++ [conv_1(maxpool_3(x))]
    out = ReLU(BN(concat(h)))
    """

    def __init__(
        self, in_channels: int, *, filters: int = 32, bottleneck: int = 32, kernel_sizes: tuple[int, ...] = (40, 20, 10)
    ) -> None:
        super().__init__()
        use_bottleneck = bottleneck > 0 and in_channels > 1
        self.bottleneck = SameConv1d(in_channels, bottleneck, 1, bias=False) if use_bottleneck else nn.Identity()
        width = bottleneck if use_bottleneck else in_channels
        self.convs = nn.ModuleList([SameConv1d(width, filters, k, bias=False) for k in kernel_sizes])
        self.pool_conv = nn.Conv1d(in_channels, filters, 1, bias=False)
        self.bn = nn.BatchNorm1d(filters * (len(kernel_sizes) + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.bottleneck(x)  # (B, bottleneck, L)
        pooled = F.max_pool1d(F.pad(x, (1, 1), value=float("-inf")), 3, stride=1)  # (B, C_in, L)
        h = torch.cat([conv(z) for conv in self.convs] + [self.pool_conv(pooled)], dim=1)  # (B, 4 * filters, L)
        return F.relu(self.bn(h))


class InceptionTime(nn.Module):
    """One InceptionTime network (Fawaz et al. 2020; the paper ensembles five). x (B, C, L) -> (B, K).

    Args:
        in_channels: C, variables of the series (first axis of input_shape); filled from the data when unset.
        num_classes: K, number of classes (logits of the head); filled from the data when unset.
        depth: number of stacked Inception modules (paper: 6).
        filters: output channels of each parallel conv; a module outputs filters * (len(kernel_sizes) + 1).
        bottleneck: channels of the 1x1 conv before the wide convs (0: none; the first module skips it when C = 1).
        kernel_sizes: kernel lengths of the parallel convs of every module (paper: 40, 20, 10).
        residual_every: a shortcut (1x1 conv + BN) around every group of this many modules (0: none; paper: 3).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        depth: int = 6,
        filters: int = 32,
        bottleneck: int = 32,
        kernel_sizes: tuple[int, ...] = (40, 20, 10),
        residual_every: int = 3,
    ) -> None:
        super().__init__()
        width = filters * (len(kernel_sizes) + 1)
        self.modules_ = nn.ModuleList(
            [
                InceptionModule(
                    in_channels if d == 0 else width, filters=filters, bottleneck=bottleneck, kernel_sizes=kernel_sizes
                )
                for d in range(depth)
            ]
        )
        self.residual_every = residual_every
        n_short = depth // residual_every if residual_every > 0 else 0
        self.shortcuts = nn.ModuleList(
            [
                nn.Sequential(nn.Conv1d(in_channels if s == 0 else width, width, 1, bias=False), nn.BatchNorm1d(width))
                for s in range(n_short)
            ]
        )
        self.head = GAPHead(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, res = x, x  # res: the input of the current residual group
        for d, module in enumerate(self.modules_):
            h = module(h)  # (B, 4 * filters, L)
            if self.residual_every > 0 and (d + 1) % self.residual_every == 0:
                h = F.relu(h + self.shortcuts[d // self.residual_every](res))
                res = h
        return self.head(h)  # (B, K)


class LeNet(nn.Module):
    """LeNet-style CNN. Shapes: x (B, C, H, W) -> logits (B, K); H and W must be divisible by 4.

    conv(k, "same") -> BN -> ReLU -> maxpool 2  (twice)  -> flatten -> FC -> ReLU -> dropout -> FC

    Args:
        input_shape: image shape (C, H, W), H and W divisible by 4; filled from the data when unset.
        num_classes: K, number of classes (logits of the head); filled from the data when unset.
        channels: output channels of the two conv stages.
        kernel_size: odd side length k of both convs' square kernels ("same" padding).
        hidden: width of the fully connected layer before the output layer.
        dropout: drop probability before the output layer (training only).
    """

    def __init__(
        self,
        *,
        input_shape: tuple[int, ...],
        num_classes: int,
        channels: tuple[int, int] = (32, 64),
        kernel_size: int = 5,
        hidden: int = 256,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        c, h, w = input_shape
        if kernel_size % 2 == 0:
            raise ValueError(f"LeNet needs an odd kernel_size for 'same' padding, got {kernel_size}")
        if h % 4 or w % 4:
            raise ValueError(f"LeNet needs height and width divisible by 4 (two 2x2 pools), got {h}x{w}")
        pad = kernel_size // 2
        self.features = nn.Sequential(
            nn.Conv2d(c, channels[0], kernel_size, padding=pad, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels[0], channels[1], kernel_size, padding=pad, bias=False),
            nn.BatchNorm2d(channels[1]),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(channels[1] * (h // 4) * (w // 4), hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, C1, H/4, W/4)
        return self.classifier(h.flatten(1))  # (B, C1 * H/4 * W/4) -> (B, K)
