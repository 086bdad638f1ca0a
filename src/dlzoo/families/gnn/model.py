"""GNN models: stacks of the layers in ``layers/`` (nn.Modules only; losses live in objective.py).

Node-level models (GCN, GAT, GraphSAGE) map a graph to one row per node:

    forward(x (N, F) float, edge_index (2, E) long) -> (N, out)

The graph-level model (GIN) maps a block-diagonal batch of graphs to one row per graph:

    forward(x (N, F) float, edge_index (2, E) long, batch (N,) long graph id, sorted) -> (G, out)

with G = batch[-1] + 1. Edges are directed pairs src -> dst; an undirected graph lists both.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.families.gnn.layers import GATConv, GCNConv, GINConv, SAGEConv
from dlzoo.families.gnn.ops import input_dropout, sum_readout


def conv_stack(
    convs: nn.ModuleList, x: torch.Tensor, edge_index: torch.Tensor, *, dropout: float, training: bool
) -> torch.Tensor:
    """dropout -> conv -> ReLU per layer (no ReLU after the last), as GCN and GraphSAGE stack them."""
    for i, conv in enumerate(convs):
        if i == 0:  # the input features: sparse (bag of words), dropout on their nonzeros only
            x = input_dropout(x, dropout, training)  # (N, F)
        else:
            x = F.dropout(x, p=dropout, training=training)  # (N, F_i)
        x = conv(x, edge_index)  # (N, F_{i+1})
        if i < len(convs) - 1:
            x = F.relu(x)
    return x  # (N, out)


class GCN(nn.Module):
    """Kipf & Welling (2017), Eq. 9 for two layers: Z = softmax(Â ReLU(Â X W0) W1), here as logits.

    Dropout on the input of every layer (the paper's and PyG's example), ReLU between layers.

    Args:
        in_features: F, input features per node; filled from the data when unset.
        out_features: outputs per node (class logits); filled from the data when unset.
        hidden: widths of the hidden graph-convolution layers, input to output (paper: (16,)).
        dropout: drop probability on the input of every layer (nonzero input features only on the first).
    """

    def __init__(
        self, *, in_features: int, out_features: int, hidden: tuple[int, ...] = (16,), dropout: float = 0.5
    ) -> None:
        super().__init__()
        dims = [in_features, *hidden, out_features]
        self.convs = nn.ModuleList(GCNConv(in_features=a, out_features=b) for a, b in itertools.pairwise(dims))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return conv_stack(self.convs, x, edge_index, dropout=self.dropout, training=self.training)  # (N, out)


class GAT(nn.Module):
    """Veličković et al. (2018), Sec. 3.3 (transductive): K heads of F' features, ELU, concatenated;
    an output layer of ``out_heads`` heads averaged; dropout on every layer's input and on α.

    Args:
        in_features: F, input features per node; filled from the data when unset.
        out_features: outputs per node (class logits); filled from the data when unset.
        hidden: F', features per head of the hidden attention layer (its output is heads * F' wide).
        heads: K, attention heads of the hidden layer, concatenated (paper: 8).
        out_heads: attention heads of the output layer, averaged (paper: 1 on Cora, 8 on PubMed).
        dropout: drop probability on every layer's input and on the attention coefficients α (paper: 0.6).
        value_dropout: drop probability on the projected features W h of every layer before aggregation,
            as the authors' code (0.6 there); 0 in PyG's GATConv, the default here.
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: int = 8,
        heads: int = 8,
        out_heads: int = 1,
        dropout: float = 0.6,
        value_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        v = value_dropout
        self.conv1 = GATConv(
            in_features=in_features, out_features=hidden, heads=heads, dropout=dropout, value_dropout=v
        )
        self.conv2 = GATConv(
            in_features=hidden * heads,
            out_features=out_features,
            heads=out_heads,
            concat=False,
            dropout=dropout,
            value_dropout=v,
        )
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = input_dropout(x, self.dropout, self.training)  # (N, F) dropout on the nonzero input features
        x = F.elu(self.conv1(x, edge_index))  # (N, K·F')
        x = F.dropout(x, p=self.dropout, training=self.training)
        return self.conv2(x, edge_index)  # (N, out)


class GraphSAGE(nn.Module):
    """Hamilton et al. (2017), Algorithm 1 with K = len(hidden) + 1 layers: SAGEConv, ReLU, dropout.

    Trained full-batch or on sampled neighbourhoods (``sampler.py``); the forward is the same.

    Args:
        in_features: F, input features per node; filled from the data when unset.
        out_features: outputs per node (class logits); filled from the data when unset.
        hidden: widths of the hidden SAGE layers, input to output; K = len(hidden) + 1 layers.
        aggregator: mean (elementwise mean of the neighbours) | max (pooling: max_u ReLU(W_pool h_u + b)).
        dropout: drop probability on the input of every layer.
        normalize: L2-normalize every hidden layer's output h'_v / ||h'_v|| (Algorithm 1, line 7).
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: tuple[int, ...] = (64,),
        aggregator: str = "mean",
        dropout: float = 0.5,
        normalize: bool = False,
    ) -> None:
        super().__init__()
        dims = [in_features, *hidden, out_features]
        self.convs = nn.ModuleList(
            SAGEConv(in_features=a, out_features=b, aggregator=aggregator, normalize=normalize and i < len(hidden))
            for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True))
        )
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return conv_stack(self.convs, x, edge_index, dropout=self.dropout, training=self.training)  # (N, out)


def gin_mlp(in_features: int, hidden: int, layers: int) -> nn.Sequential:
    """The MLP inside a GIN layer: ``layers`` Linear layers with BatchNorm + ReLU (Xu et al. 2019, Sec. 7)."""
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(in_features if i == 0 else hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
    return nn.Sequential(*mods)


class GIN(nn.Module):
    """Graph classifier of Xu et al. (2019), Sec. 7: GIN layers, then a readout from every depth.

    Eq. 4.2: h_G = CONCAT( READOUT({h_v^(k) | v in G}) | k = 0..K ), READOUT = sum. As in the authors'
    code, the concatenation followed by one linear layer is written as a sum of per-depth linear
    scores: score(G) = sum_k Linear_k( dropout( sum_{v in G} h_v^(k) ) ).

    Args:
        in_features: F, input features per node; filled from the data when unset.
        out_features: outputs per graph (class logits); filled from the data when unset.
        hidden: width of every GIN layer's MLP (paper tunes 16 / 32 / 64).
        num_layers: K + 1, the GIN layers plus the input layer, each read out (paper: 5).
        mlp_layers: Linear -> BatchNorm -> ReLU layers in each GIN layer's MLP (paper: 2).
        dropout: drop probability on each depth's pooled graph vector before its linear score.
        train_eps: learn ε in h_v = MLP((1 + ε) h_v + sum of neighbours) (GIN-ε); False keeps ε = 0 (GIN-0).
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        hidden: int = 64,
        num_layers: int = 5,
        mlp_layers: int = 2,
        dropout: float = 0.5,
        train_eps: bool = False,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            GINConv(mlp=gin_mlp(in_features if k == 0 else hidden, hidden, mlp_layers), train_eps=train_eps)
            for k in range(num_layers - 1)
        )  # num_layers counts the input layer, as in the paper
        self.heads = nn.ModuleList(
            nn.Linear(in_features if k == 0 else hidden, out_features) for k in range(num_layers)
        )
        self.dropout = dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        num_graphs = int(batch[-1]) + 1  # graph ids are sorted: G = last id + 1 (symbolic in exports)
        h = x  # h^(0) = input features, (N, F)
        hs = [h]
        for conv in self.convs:
            h = conv(h, edge_index)  # (N, hidden)
            hs.append(h)
        score = torch.zeros(0)
        for k, head in enumerate(self.heads):
            pooled = sum_readout(hs[k], batch, num_graphs)  # (G, F_k) sum over each graph's nodes
            out = head(F.dropout(pooled, p=self.dropout, training=self.training))  # (G, out)
            score = out if k == 0 else score + out
        return score  # (G, out)
