"""Graph attention (Veličković et al. 2018, "Graph Attention Networks")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.families.gnn.ops import scatter_sum, segment_softmax, with_self_loops


class GATConv(nn.Module):
    r"""Multi-head graph attention layer.

    Veličković et al. (2018), Eq. 3 (attention coefficients over N(i) ∪ {i}):

        e_ij = LeakyReLU( a_srcᵀ W h_j + a_dstᵀ W h_i ),   α_ij = softmax_j(e_ij)

    Eq. 5/6 (K heads, concatenated in hidden layers, averaged in the output layer):

        h'_i = ∥_{k=1..K} sum_j α^k_ij W^k h_j      or      h'_i = 1/K sum_k sum_j α^k_ij W^k h_j

    Dropout is applied to the normalized coefficients α (as in the paper, so each node sees a
    stochastically sampled neighbourhood); ``value_dropout`` also drops the projected features W h_j
    before they are summed (per head), as the authors' code does (``attn_head`` in ``utils/layers.py``).
    The split of the paper's a = [a_dst ∥ a_src] into two
    vectors and the parameter names follow PyG's ``GATConv`` (``lin.weight`` (K·C, in),
    ``att_src``/``att_dst`` (1, K, C), ``bias``).

    Shapes:
        x (N, in_features), edge_index (2, E) -> (N, heads * out_features) if concat else (N, out_features)
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        value_dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.heads, self.out_features, self.concat = heads, out_features, concat
        self.negative_slope, self.dropout, self.value_dropout = negative_slope, dropout, value_dropout
        self.lin = nn.Linear(in_features, heads * out_features, bias=False)  # W^k for all heads
        self.att_src = nn.Parameter(torch.empty(1, heads, out_features))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_features))
        self.bias = nn.Parameter(torch.zeros(heads * out_features if concat else out_features)) if bias else None
        for w in (self.lin.weight, self.att_src, self.att_dst):
            nn.init.xavier_uniform_(w)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n, H, C = x.shape[0], self.heads, self.out_features
        src, dst, is_extra = with_self_loops(edge_index, n)  # (E + N,) each
        h = self.lin(x).view(n, H, C)  # (N, H, C) W h
        a_src = (h * self.att_src).sum(-1)  # (N, H) a_srcᵀ W h_j
        a_dst = (h * self.att_dst).sum(-1)  # (N, H) a_dstᵀ W h_i
        # e_ij = LeakyReLU(a_srcᵀ W h_j + a_dstᵀ W h_i)                                         (Eq. 3)
        e = F.leaky_relu(a_src[src] + a_dst[dst], self.negative_slope)  # (E + N, H)
        e = e.masked_fill(is_extra.unsqueeze(-1), float("-inf"))  # self-loops already in the input: out
        # α_ij = exp(e_ij) / sum_{k in N(i) ∪ {i}} exp(e_ik)
        alpha = segment_softmax(e, dst, n)  # (E + N, H)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        if self.value_dropout > 0:  # the authors' code: dropout on W h too, per head
            h = F.dropout(h, p=self.value_dropout, training=self.training)
        # h'_i = sum_j α_ij W h_j, per head                                                      (Eq. 4)
        out = scatter_sum(h[src] * alpha.unsqueeze(-1), dst, n)  # (N, H, C)
        out = out.reshape(n, H * C) if self.concat else out.mean(1)  # (N, H·C) | (N, C)     (Eq. 5 | 6)
        return out if self.bias is None else out + self.bias
