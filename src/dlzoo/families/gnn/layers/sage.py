"""GraphSAGE (Hamilton et al. 2017, "Inductive Representation Learning on Large Graphs")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.families.gnn.ops import scatter_max, scatter_sum

AGGREGATORS = ("mean", "max")


class SAGEConv(nn.Module):
    r"""One GraphSAGE layer: a node's own features plus an aggregate of its neighbours'.

    Hamilton et al. (2017), Algorithm 1, lines 4-5, with the concatenation written as a sum of two
    linear maps (W [h_v ∥ h_N] = W_self h_v + W_neigh h_N):

        h_N(v) = AGG({h_u : u in N(v)})
        h'_v   = W_self h_v + W_neigh h_N(v)          (then optionally h'_v / ||h'_v||_2)

    Aggregators (Sec. 3.3): ``mean`` = elementwise mean of the neighbours (Eq. 2 without the self
    term); ``max`` = the pooling aggregator, max_u σ(W_pool h_u + b) elementwise (Eq. 3), with a
    pooling width of ``out_features``. A node with no neighbours aggregates to 0. Since the mean is
    linear, W_neigh mean(h_u) = mean(W_neigh h_u): the mean aggregator transforms before it gathers
    when that is narrower (in > out), which on Cora's 1433 features is ~20x less gathered data.
    Neighbour *sampling* is done outside the layer
    (``sampler.py``): the layer aggregates over whatever edges it is given.

    Shapes:
        x (N, in_features), edge_index (2, E) -> (N, out_features)
    """

    def __init__(
        self, *, in_features: int, out_features: int, aggregator: str = "mean", normalize: bool = False
    ) -> None:
        super().__init__()
        if aggregator not in AGGREGATORS:
            raise ValueError(f"unknown aggregator {aggregator!r}; valid: {', '.join(AGGREGATORS)}")
        self.aggregator, self.normalize = aggregator, normalize
        pooled = out_features if aggregator == "max" else in_features
        self.pool = nn.Linear(in_features, pooled) if aggregator == "max" else None  # W_pool, b
        self.lin_neigh = nn.Linear(pooled, out_features)  # W_neigh (+ the layer's bias)
        self.lin_self = nn.Linear(in_features, out_features, bias=False)  # W_self

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        src, dst = edge_index[0], edge_index[1]
        real = (src != dst).to(x.dtype).unsqueeze(-1)  # (E, 1) self-loops in the input are not neighbours
        if self.pool is None:
            # W_neigh h_N(v) = W_neigh 1/|N(v)| sum_{u in N(v)} h_u = 1/|N(v)| sum_u W_neigh h_u
            count = scatter_sum(real, dst, n).clamp(min=1)  # (N, 1)
            if self.lin_neigh.in_features > self.lin_neigh.out_features:  # transform first: fewer columns to move
                wx = F.linear(x, self.lin_neigh.weight)  # (N, out)
                neigh = scatter_sum(wx[src] * real, dst, n) / count + self.lin_neigh.bias  # (N, out)
            else:
                neigh = self.lin_neigh(scatter_sum(x[src] * real, dst, n) / count)  # (N, out)
        else:
            # h_N(v) = max_{u in N(v)} ReLU(W_pool h_u + b): messages are >= 0, so 0 fills empty neighbourhoods
            msg = F.relu(self.pool(x))[src] * real  # (E, P)
            neigh = self.lin_neigh(scatter_max(msg, dst, n, fill=0.0))  # (N, out)
        out = self.lin_self(x) + neigh  # (N, out)
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out
