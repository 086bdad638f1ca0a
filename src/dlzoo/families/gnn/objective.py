"""What GNNs are trained for: node classification, graph classification, link prediction.

Each objective is a ``Config`` (the run config's ``task:`` section) and its loss; how a trained run
answers requests and is exported is in ``pipeline.py``. The loops that use them are in
``dlzoo/tasks/graph.py``.

- Node classification (transductive; Kipf & Welling 2017, Eq. 10): cross-entropy over the
  labelled training nodes, L = -1/|Y_L| sum_{i in Y_L} log softmax(Z_i)_{y_i}; the whole graph is
  propagated every step, or, with ``fanouts``, mini-batches of target nodes on sampled
  neighbourhoods (Hamilton et al. 2017, Alg. 2).
- Graph classification (Xu et al. 2019): cross-entropy over a mini-batch of graphs stacked
  block-diagonally.
- Link prediction (graph auto-encoder decoder, Kipf & Welling 2016): score(u, v) = σ(z_uᵀ z_v)
  for node embeddings z = GNN(X, A_train); binary cross-entropy on the held-out-free training edges
  against as many uniformly sampled non-edges (negative sampling, Mikolov et al. 2013).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.protocols import GraphObjective


class NodeClassification(GraphObjective):
    """Transductive node classification: softmax cross-entropy over the training nodes' logits."""

    level: ClassVar[str] = "node"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label_smoothing: float = Field(0.0, ge=0, lt=1, description="mix targets with uniform (Szegedy 2016)")
        fanouts: list[int] | None = Field(
            None,
            description="neighbour sampling: neighbours per node at hop 1, 2, ... "
            "(-1 = all); mini-batches of train.batch_size target nodes. "
            "None = full-batch training",
        )

    def __init__(self, cfg: NodeClassification.Config) -> None:
        self.cfg = cfg

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)  # (B, C), (B,) -> ()


class GraphClassification(GraphObjective):
    """Graph classification: softmax cross-entropy over a block-diagonal mini-batch of graphs."""

    level: ClassVar[str] = "graph"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label_smoothing: float = Field(0.0, ge=0, lt=1, description="mix targets with uniform (Szegedy 2016)")

    def __init__(self, cfg: GraphClassification.Config) -> None:
        self.cfg = cfg

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)  # (G, C), (G,) -> ()


def link_logits(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Inner-product decoder logit z_uᵀ z_v (Kipf & Welling 2016, Eq. 2 before σ); z (N, D), pairs (2, P) -> (P,)."""
    return (z[pairs[0]] * z[pairs[1]]).sum(-1)


class LinkPrediction(GraphObjective):
    """Link prediction: node embeddings z, edge probability σ(z_uᵀ z_v), BCE against negative samples."""

    level: ClassVar[str] = "link"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        val_fraction: float = Field(0.05, ge=0, lt=0.5, description="undirected edges held out for val/auroc")
        test_fraction: float = Field(0.10, gt=0, lt=0.5, description="undirected edges held out for test/auroc")
        split_seed: int = Field(0, description="seed of the edge split and of the evaluation negatives")
        negatives: float = Field(
            1.0, gt=0, description="negative pairs per positive training edge, resampled every step"
        )

    def __init__(self, cfg: LinkPrediction.Config) -> None:
        self.cfg = cfg

    link_logits = staticmethod(link_logits)  # the decoder: scores of node pairs, also used by evaluation

    def loss(self, z: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        # L = -mean log σ(z_uᵀz_v) over edges - mean log(1 - σ(z_uᵀz_v)) over negative pairs
        pos_logit, neg_logit = link_logits(z, pos), link_logits(z, neg)  # (P,), (Q,)
        return F.binary_cross_entropy_with_logits(
            pos_logit, torch.ones_like(pos_logit)
        ) + F.binary_cross_entropy_with_logits(neg_logit, torch.zeros_like(neg_logit))
