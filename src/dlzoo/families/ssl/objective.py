"""The self-supervised methods as objectives of the representation paradigm: one loss each.

Views a, b of the same batch (``augment.py``), h = f(x), z = g(h), p = q(z) (``model.py``):

    SimCLR        NT-Xent over the 2B projections, each view's positive is its twin     (Chen et al. 2020, Eq. 1)
    BYOL          ||p_a/|p_a| - z'_b/|z'_b|||^2, z' from an EMA target; symmetrized        (Grill et al. 2020, Eq. 2)
    SimSiam       -cos(p_a, sg(z_b)) / 2 - cos(p_b, sg(z_a)) / 2                          (Chen & He 2021, Eq. 3)
    Barlow Twins  sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2, C the cross-correlation (Zbontar et al. 2021, Eq. 1)
    VICReg        lambda s(Z, Z') + mu [v(Z) + v(Z')] + nu [c(Z) + c(Z')]                (Bardes et al. 2022, Eq. 6)

The loss functions are plain functions of the projections (tested against direct formulas and
numpy); the objective classes add the config, the views and BYOL's target.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

from dlzoo.families.ssl.augment import Augment, AugmentConfig
from dlzoo.paradigms import RepresentationConfig
from dlzoo.protocols import Losses, RepresentationObjective


# -- the losses, as functions of the projections -------------------------------------------------


def nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """NT-Xent (Chen et al. 2020, Eq. 1), the InfoNCE loss of instance discrimination:

        l(i, j) = -log exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau),  s = cosine similarity,

    averaged over the 2B anchors i (each view of each example), j = i's other view. (B, D) x2 -> ()."""
    b = len(z_a)
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)  # (2B, D) on the unit sphere
    logits = z @ z.T / temperature  # (2B, 2B) s_ik / tau
    logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))  # k != i
    positives = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)  # i's twin
    return F.cross_entropy(logits, positives)


def negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """D(p, z) = -mean_i cos(p_i, z_i); BYOL's ||p/|p| - z/|z|||^2 = 2 + 2 D(p, z). (B, D) x2 -> ()."""
    return -F.cosine_similarity(p, z, dim=-1).mean()


def cross_correlation(z_a: torch.Tensor, z_b: torch.Tensor, *, eps: float = 1e-5) -> torch.Tensor:
    """C_ij = sum_b za_bi zb_bj / B with each dimension standardized over the batch (Zbontar et al. 2021,
    Eq. 2; biased variance, as BatchNorm1d(affine=False) in their code). (B, D) x2 -> (D, D)."""
    a = (z_a - z_a.mean(0)) / (z_a.var(0, unbiased=False) + eps).sqrt()
    b = (z_b - z_b.mean(0)) / (z_b.var(0, unbiased=False) + eps).sqrt()
    return a.T @ b / len(z_a)


def barlow_twins(z_a: torch.Tensor, z_b: torch.Tensor, *, lambd: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """sum_i (1 - C_ii)^2 (invariance) + lambda sum_{i != j} C_ij^2 (redundancy reduction)."""
    c = cross_correlation(z_a, z_b)  # (D, D)
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
    return on + lambd * off, {"on_diagonal": on, "off_diagonal": off}


def vicreg(
    z_a: torch.Tensor, z_b: torch.Tensor, *, sim: float, var: float, cov: float, eps: float = 1e-4
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """VICReg (Bardes et al. 2022), as their code weighs it:

    s = mean ||z - z'||^2 / D                                   invariance (MSE)
    v(Z) = mean_j max(0, 1 - sqrt(Var(z_j) + eps)), averaged over the two branches
    c(Z) = sum_{i != j} Cov(Z)_ij^2 / D, summed over the two branches
    """
    d = z_a.shape[1]
    invariance = F.mse_loss(z_a, z_b)
    variance = sum(F.relu(1 - (z.var(0) + eps).sqrt()).mean() for z in (z_a, z_b)) / 2
    covariance = torch.zeros((), device=z_a.device)
    for z in (z_a, z_b):
        zc = z - z.mean(0)
        c = zc.T @ zc / (len(z) - 1)  # (D, D) covariance
        covariance = covariance + (c - torch.diag(torch.diagonal(c))).pow(2).sum() / d
    loss = sim * invariance + var * variance + cov * covariance
    return loss, {"invariance": invariance, "variance": variance, "covariance": covariance}


# -- the objectives ---------------------------------------------------------------------------------


class SSLConfig(RepresentationConfig):
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="how the two views are drawn")


class SSLObjective(RepresentationObjective):
    """Shared by every method: the views, the embedding; subclasses give ``Config`` and ``loss``."""

    Config: Any = SSLConfig

    def __init__(self, cfg: BaseModel) -> None:
        self.cfg = cfg
        self.augment = Augment(cfg.augment)

    def prepare(self, model: Any, train_x: torch.Tensor) -> None:
        self.augment.fit(train_x)

    def views(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.augment(x, generator), self.augment(x, generator)

    @staticmethod
    def embed(model: Any, x: torch.Tensor) -> torch.Tensor:
        return model.embed(x)


class SimCLR(SSLObjective):
    class Config(SSLConfig):
        temperature: float = Field(0.5, gt=0, description="tau of NT-Xent")

    def loss(self, model: Any, view_a: torch.Tensor, view_b: torch.Tensor) -> Losses:
        b = len(view_a)
        _, z, *_ = model(torch.cat([view_a, view_b]))  # one pass over 2B: BatchNorm sees both views
        z_a, z_b = z[:b], z[b:]
        loss = nt_xent(z_a, z_b, temperature=self.cfg.temperature)
        return loss, {"positive_cosine": F.cosine_similarity(z_a, z_b).mean()}


class SimSiam(SSLObjective):
    class Config(SSLConfig):
        stop_gradient: bool = Field(True, description="sg(z) in the loss; false collapses (Chen & He 2021, Fig. 2)")

    def loss(self, model: Any, view_a: torch.Tensor, view_b: torch.Tensor) -> Losses:
        out_a, out_b = model(view_a), model(view_b)  # (h, z, p) each
        z_a, z_b, p_a, p_b = out_a[1], out_b[1], out_a[-1], out_b[-1]  # p = z without a predictor
        if self.cfg.stop_gradient:
            z_a, z_b = z_a.detach(), z_b.detach()
        return negative_cosine(p_a, z_b) / 2 + negative_cosine(p_b, z_a) / 2, {}


class BYOL(SSLObjective):
    """The online network (with predictor) regresses the projection of an EMA copy, the target:
    xi <- tau xi + (1 - tau) theta after every step (Grill et al. 2020, Eq. 1); the target gets no gradient."""

    class Config(SSLConfig):
        momentum: float = Field(0.99, ge=0, le=1, description="tau of the target's EMA (0: the target is the online)")

    def __init__(self, cfg: BaseModel) -> None:
        super().__init__(cfg)
        self.target: torch.nn.Module | None = None

    def prepare(self, model: Any, train_x: torch.Tensor) -> None:
        super().prepare(model, train_x)
        self.target = copy.deepcopy(model)
        self.target.predictor = None  # the target has no predictor
        self.target.requires_grad_(False)

    @torch.no_grad()
    def after_step(self, model: Any) -> None:
        tau = self.cfg.momentum
        online = dict(model.named_parameters())
        for name, xi in self.target.named_parameters():
            xi.mul_(tau).add_(online[name].detach(), alpha=1 - tau)  # xi <- tau xi + (1 - tau) theta

    def loss(self, model: Any, view_a: torch.Tensor, view_b: torch.Tensor) -> Losses:
        if self.target is None:
            raise RuntimeError("BYOL's target network is made by prepare(model, train_x) before training")
        p_a, p_b = model(view_a)[-1], model(view_b)[-1]  # p = q(z), or z itself without a predictor
        with torch.no_grad():
            self.target.train(model.training)
            _, t_a = self.target(view_a)
            _, t_b = self.target(view_b)
        # ||p/|p| - z'/|z'|||^2 = 2 - 2 cos, symmetrized over the two views
        loss = (2 + 2 * negative_cosine(p_a, t_b)) + (2 + 2 * negative_cosine(p_b, t_a))
        return loss, {}

    def state_dict(self) -> dict[str, Any]:
        return {"target": self.target.state_dict()} if self.target is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "target" in state and self.target is not None:
            self.target.load_state_dict(state["target"])


class BarlowTwins(SSLObjective):
    class Config(SSLConfig):
        lambd: float = Field(5e-3, ge=0, description="lambda, the weight of the off-diagonal terms")

    def loss(self, model: Any, view_a: torch.Tensor, view_b: torch.Tensor) -> Losses:
        _, z_a = model(view_a)
        _, z_b = model(view_b)
        return barlow_twins(z_a, z_b, lambd=self.cfg.lambd)


class VICReg(SSLObjective):
    class Config(SSLConfig):
        sim_weight: float = Field(25.0, ge=0, description="lambda, the invariance term's weight")
        var_weight: float = Field(25.0, ge=0, description="mu, the variance term's weight")
        cov_weight: float = Field(1.0, ge=0, description="nu, the covariance term's weight")

    def loss(self, model: Any, view_a: torch.Tensor, view_b: torch.Tensor) -> Losses:
        _, z_a = model(view_a)
        _, z_b = model(view_b)
        return vicreg(z_a, z_b, sim=self.cfg.sim_weight, var=self.cfg.var_weight, cov=self.cfg.cov_weight)
