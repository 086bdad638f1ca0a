"""Graph isomorphism network layer (Xu et al. 2019, "How Powerful are Graph Neural Networks?")."""

from __future__ import annotations

import torch
from torch import nn

from dlzoo.families.gnn.ops import scatter_sum


class GINConv(nn.Module):
    r"""h'_v = MLP( (1 + ε) h_v + sum_{u in N(v)} h_u )           (Xu et al. 2019, Eq. 4.1)

    Sum aggregation followed by an MLP is injective on multisets of neighbour features (Lemma 5,
    Corollary 6), which makes GIN as discriminative as the Weisfeiler-Lehman test. ``train_eps``
    learns ε (GIN-ε); otherwise ε is a fixed buffer (GIN-0 with ``eps=0``, the paper's best variant).

    Shapes:
        x (N, in_features), edge_index (2, E) -> (N, mlp output features)
    """

    def __init__(self, *, mlp: nn.Module, eps: float = 0.0, train_eps: bool = False) -> None:
        super().__init__()
        self.mlp = mlp
        if train_eps:
            self.eps = nn.Parameter(torch.tensor([eps]))
        else:
            self.register_buffer("eps", torch.tensor([eps]))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        src, dst = edge_index[0], edge_index[1]
        real = (src != dst).to(x.dtype).unsqueeze(-1)  # (E, 1) self-loops in the input are not neighbours
        neighbours = scatter_sum(x[src] * real, dst, x.shape[0])  # (N, F) sum_{u in N(v)} h_u
        return self.mlp((1 + self.eps) * x + neighbours)  # (N, out)
