"""Metric-based few-shot learning: Prototypical Networks (Snell et al. 2017), Matching Networks
(Vinyals et al. 2016, without full context embeddings). Adaptation is one forward pass of the support set.

ProtoNets: c_k = (1/|S_k|) sum_{x in S_k} f(x)                       (Snell et al. eq. 1)
           p(y = k | x) = softmax_k(-||f(x) - c_k||^2)                (eq. 2, squared Euclidean)
Matching:  a(x, x_i) = softmax_i(cos(f(x), f(x_i)))                   (Vinyals et al. eq. 2)
           p(y = k | x) = sum_i a(x, x_i) [y_i = k]                   (eq. 1)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from dlzoo.data.affine import AffineJitter
from dlzoo.families.meta.objective import accuracy
from dlzoo.paradigms import EpisodicConfig
from dlzoo.protocols import EpisodicObjective, Losses


def prototypes(z: torch.Tensor, y: torch.Tensor, ways: int) -> torch.Tensor:
    """Class means of the support embeddings: z (S, D), y (S,) in [0, ways) -> (ways, D)."""
    one_hot = F.one_hot(y, ways).to(z.dtype)  # (S, N)
    return (one_hot.T @ z) / one_hot.sum(0)[:, None]  # (N, D)


def squared_distances(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """||q_i - c_k||^2: q (Q, D), c (N, D) -> (Q, N)."""
    return (q[:, None, :] - c[None, :, :]).square().sum(-1)


class MetricConfig(EpisodicConfig):
    n_way: int = Field(20, ge=2, description="classes per training episode (Snell et al.: more ways in training help)")
    support_copies: int = Field(
        0,
        ge=0,
        le=32,
        description="at adaptation, also embed this many affine-distorted copies of every support image "
        "(dlzoo.data.affine.AffineJitter, a fixed generator); a prototype is the mean over them all",
    )


class ProtoNetObjective(EpisodicObjective):
    """Cross-entropy of softmax(-||f(x_Q) - c_k||^2) over the episode's prototypes."""

    Config = MetricConfig

    def __init__(self, cfg: MetricConfig) -> None:
        self.cfg = cfg

    def logits(self, zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor) -> torch.Tensor:
        ways = int(ys.max()) + 1
        return -squared_distances(zq, prototypes(zs, ys, ways))  # (Q, N)

    def meta_loss(self, model: nn.Module, episodes: list[Any]) -> Losses:
        losses, accs = [], []
        for ep in episodes:
            z = model(torch.cat([ep.support_x, ep.query_x]))  # one batch: the same normalization statistics
            zs, zq = z[: len(ep.support_x)], z[len(ep.support_x) :]
            out = self.logits(zs, ep.support_y, zq)
            losses.append(F.cross_entropy(out, ep.query_y))
            accs.append(accuracy(out.detach(), ep.query_y))
        loss = torch.stack(losses).mean()
        return loss, {"query_loss": loss.detach(), "query_accuracy": torch.stack(accs).mean()}

    def adapt(
        self, model: nn.Module, support_x: torch.Tensor, support_y: torch.Tensor, *, steps: int | None = None, **_: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The support embeddings and labels (the prototypes come from them); ``steps`` is not used.
        With ``support_copies`` c: the support set and c distorted copies of it, (S (c + 1), D) and (S (c + 1),)."""
        with torch.no_grad():
            if not self.cfg.support_copies:
                return model(support_x), support_y
            gen, jitter = torch.Generator().manual_seed(0), AffineJitter()  # the same copies for every call
            copies = [support_x] + [jitter(support_x, gen) for _ in range(self.cfg.support_copies)]
            return model(torch.cat(copies)), support_y.repeat(len(copies))

    def predict(
        self, model: nn.Module, adapted: tuple[torch.Tensor, torch.Tensor], query_x: torch.Tensor
    ) -> torch.Tensor:
        zs, ys = adapted
        return self.logits(zs, ys, model(query_x))


class MatchingNetObjective(ProtoNetObjective):
    """Log of the attention-weighted label distribution over the support set (cosine attention)."""

    def logits(self, zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor) -> torch.Tensor:
        ways = int(ys.max()) + 1
        attention = torch.softmax(F.normalize(zq, dim=-1) @ F.normalize(zs, dim=-1).T, dim=-1)  # (Q, S)
        probs = attention @ F.one_hot(ys, ways).to(zq.dtype)  # (Q, N)
        return torch.log(probs.clamp_min(1e-8))
