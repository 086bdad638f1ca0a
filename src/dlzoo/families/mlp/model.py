"""The multilayer perceptron (Rumelhart, Hinton & Williams 1986).

h_0 = standardize(x)                       # statistics fitted on the training set, kept as buffers
h_l = dropout(act(W_l h_{l-1} + b_l))      # l = 1..L hidden layers
y   = W_out h_L + b_out                    # logits (classification) or standardized target (regression)
"""

from __future__ import annotations

import torch
from torch import nn

from dlzoo.layers import Standardize
from dlzoo.registry import choices_error

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class MLP(nn.Module):
    """Shapes: x (B, *input_shape) -> (B, out_features). Inputs are flattened first.

    Args:
        in_features: input dimension after flattening; filled from the data when unset.
        out_features: classes (logits) or regression targets; filled from the data when unset.
        hidden: widths of the hidden layers, input to output, e.g. (800, 800).
        activation: nonlinearity after every hidden layer: relu | gelu | tanh | silu.
        dropout: drop probability after every hidden activation.
        batch_norm: BatchNorm1d before every activation.
        standardize_input: fit per-feature mean/std on the training data (raw features in, always).
        target_norm: regression only; predict standardized targets and map them back to target units.
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: tuple[int, ...],
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        standardize_input: bool = True,
        target_norm: bool = False,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(choices_error("activation", activation, list(ACTIVATIONS)))
        self.input_norm = Standardize(in_features) if standardize_input else nn.Identity()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_features)
        self.target_norm = Standardize(out_features, role="target") if target_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_norm(x.flatten(1))  # (B, in_features)
        out = self.head(self.body(h))  # (B, out_features)
        return self.target_norm.inverse(out) if self.target_norm is not None else out
