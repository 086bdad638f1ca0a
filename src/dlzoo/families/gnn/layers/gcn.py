"""Graph convolution (Kipf & Welling 2017, "Semi-Supervised Classification with Graph Convolutional Networks")."""

from __future__ import annotations

import torch
from torch import nn

from dlzoo.families.gnn.ops import gcn_norm, scatter_sum


class GCNConv(nn.Module):
    r"""One propagation step of a GCN, the first-order approximation of spectral graph convolution.

    Kipf & Welling (2017), Eq. 2:

        H' = D̂^{-1/2} Â D̂^{-1/2} H W + b,   Â = A + I,   D̂_ii = sum_j Â_ij

    i.e. node i receives sum_{j in N(i) ∪ {i}} H_j W / sqrt(d̂_i d̂_j). Self-loops are added here
    (one per node; any already in ``edge_index`` are weighed out), so pass the graph without them.
    Same computation as PyG's ``GCNConv(normalize=True, add_self_loops=True)`` and its weight layout
    (``lin.weight`` (out, in), ``bias`` (out,)).

    Shapes:
        x (N, in_features), edge_index (2, E) -> (N, out_features)
    """

    def __init__(self, *, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.lin = nn.Linear(in_features, out_features, bias=False)  # W, Glorot-uniform as in the paper
        nn.init.xavier_uniform_(self.lin.weight)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        src, dst, norm = gcn_norm(edge_index, n)  # (E + N,) each
        h = self.lin(x)  # (N, out) transform first: cheaper when out < in
        # H'_i = sum_j norm_ij (H W)_j
        out = scatter_sum(h[src] * norm.to(h.dtype).unsqueeze(-1), dst, n)  # (N, out)
        return out if self.bias is None else out + self.bias
