"""Residual networks (He, Zhang, Ren & Sun 2016, "Deep residual learning for image recognition", CVPR).

A residual block learns F(x) = H(x) - x instead of H(x) (Sec. 3.1) and adds the input back:

    y = F(x, {W_i}) + x                # Eq. (1), identity shortcut
    y = F(x, {W_i}) + W_s x            # Eq. (2), projection shortcut when the shape changes

Every network here has a ``residual: bool`` switch: ``residual=False`` drops the shortcut and
leaves the same layers stacked plainly, the "plain" counterpart of Sec. 4.1 used in the degradation
study (benchmarks/degradation.py).

* ResidualMLP: the tabular ResNet of Gorishniy, Rubachev, Khrulkov & Babenko (2021), "Revisiting
  deep learning models for tabular data", NeurIPS, Sec. 3.2:
      ResNet(x)      = Prediction(ResNetBlock(...(ResNetBlock(Linear(x)))))
      ResNetBlock(x) = x + Dropout(Linear(Dropout(ReLU(Linear(Norm(x))))))
      Prediction(x)  = Linear(ReLU(Norm(x)))
* ResNet1d / ResNet2d: the CIFAR-style networks of He et al. Sec. 4.2: a 3x3 stem, three stages of
  ``blocks`` basic blocks (two 3x3 conv-BN layers each, Fig. 2) with widths (w, 2w, 4w), stride 2 at
  the start of stages 2 and 3, global average pooling and a linear layer: depth = 6 * blocks + 2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.layers import Standardize
from dlzoo.registry import choices_error

NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


class MLPBlock(nn.Module):
    """Gorishniy et al. (2021) ResNetBlock. Shapes: x (B, d) -> (B, d).

    h = Dropout(Linear(Dropout(ReLU(Linear(Norm(x))))))
    y = x + h  (residual)   or   y = h  (plain)
    """

    def __init__(
        self, d: int, d_hidden: int, *, norm: str, dropout_hidden: float, dropout_residual: float, residual: bool
    ) -> None:
        super().__init__()
        self.norm = NORMS[norm](d)
        self.linear1 = nn.Linear(d, d_hidden)
        self.linear2 = nn.Linear(d_hidden, d)
        self.dropout_hidden, self.dropout_residual = nn.Dropout(dropout_hidden), nn.Dropout(dropout_residual)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout_hidden(F.relu(self.linear1(self.norm(x))))  # (B, d_hidden)
        h = self.dropout_residual(self.linear2(h))  # (B, d)
        return x + h if self.residual else h


class ResidualMLP(nn.Module):
    """Tabular ResNet (Gorishniy et al. 2021). Shapes: x (B, *input_shape) -> (B, out_features).

    Args:
        in_features: input dimension after flattening; filled from the data when unset.
        out_features: classes (logits) or regression targets; filled from the data when unset.
        d: width of the residual stream.
        d_hidden: width inside a block (Gorishniy et al. tune d_hidden = factor * d, factor in [1, 4]).
        n_blocks: residual blocks; the network has 2 * n_blocks + 2 linear layers.
        norm: normalization at the start of every block and before the head: "batch" or "layer".
        dropout_hidden: drop probability after the ReLU inside every block.
        dropout_residual: drop probability on a block's output before it is added to the residual stream.
        residual: keep the shortcut (False: the plain network of the same layers).
        target_norm: regression only; predict standardized targets (mapped back to target units).
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        d: int = 128,
        d_hidden: int = 256,
        n_blocks: int = 2,
        norm: str = "batch",
        dropout_hidden: float = 0.1,
        dropout_residual: float = 0.0,
        residual: bool = True,
        target_norm: bool = False,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(choices_error("norm", norm, list(NORMS)))
        self.input_norm = Standardize(in_features)
        self.first = nn.Linear(in_features, d)
        self.blocks = nn.Sequential(
            *[
                MLPBlock(
                    d,
                    d_hidden,
                    norm=norm,
                    dropout_hidden=dropout_hidden,
                    dropout_residual=dropout_residual,
                    residual=residual,
                )
                for _ in range(n_blocks)
            ]
        )
        self.final_norm = NORMS[norm](d)
        self.head = nn.Linear(d, out_features)
        self.target_norm = Standardize(out_features, role="target") if target_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.first(self.input_norm(x.flatten(1))))  # (B, d)
        out = self.head(F.relu(self.final_norm(h)))  # (B, out_features)
        return self.target_norm.inverse(out) if self.target_norm is not None else out


class BasicBlock(nn.Module):
    """He et al. (2016) Fig. 2 for 1-D or 2-D inputs. (B, C_in, *S) -> (B, C_out, *S / stride).

    F(x) = BN(conv3(ReLU(BN(conv3(x)))))
    y    = ReLU(F(x) + shortcut(x))   (residual; shortcut = identity or 1x1 conv + BN, Eq. 2)
    y    = ReLU(F(x))                 (plain)
    """

    def __init__(self, in_channels: int, out_channels: int, *, stride: int, dims: int, residual: bool) -> None:
        super().__init__()
        Conv, BN = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
        self.conv1 = Conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = BN(out_channels)
        self.conv2 = Conv(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = BN(out_channels)
        self.residual = residual
        self.shortcut: nn.Module = nn.Identity()
        if residual and (stride != 1 or in_channels != out_channels):  # projection shortcut, option (B)
            self.shortcut = nn.Sequential(
                Conv(in_channels, out_channels, 1, stride=stride, bias=False), BN(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))  # (B, C_out, *S')
        h = self.bn2(self.conv2(h))  # (B, C_out, *S')
        return F.relu(h + self.shortcut(x)) if self.residual else F.relu(h)


class ConvResNet(nn.Module):
    """CIFAR-style ResNet (He et al. 2016, Sec. 4.2) over 1-D (B, C, L) or 2-D (B, C, H, W) inputs.

    Shapes: x (B, C, *S) -> logits (B, K). Depth (weighted layers) = 6 * blocks + 2.

    Args:
        in_channels: C, channels of one example (first axis of input_shape); filled from the data when unset.
        num_classes: K, number of classes (logits of the head); filled from the data when unset.
        dims: 1 (sequences) or 2 (images).
        blocks: basic blocks per stage (n in the paper: 3, 5, 7, 9, 18 for depth 20 ... 110).
        width: channels of the first stage; the stages have (width, 2 width, 4 width).
        residual: shortcut connections (False: the plain network).
    """

    def __init__(
        self, *, in_channels: int, num_classes: int, dims: int, blocks: int = 3, width: int = 16, residual: bool = True
    ) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2, got {dims}")
        Conv, BN = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
        self.stem = nn.Sequential(Conv(in_channels, width, 3, padding=1, bias=False), BN(width), nn.ReLU())
        layers, c_in = [], width
        for stage in range(3):
            c_out = width * 2**stage
            for b in range(blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(BasicBlock(c_in, c_out, stride=stride, dims=dims, residual=residual))
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stages(self.stem(x))  # (B, 4 width, *S / 4)
        return self.head(h.flatten(2).mean(dim=-1))  # global average pool (B, 4 width) -> (B, K)
