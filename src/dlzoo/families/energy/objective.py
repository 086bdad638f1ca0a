"""Training and evaluating RBMs: CD-k, persistent CD, and test log-likelihoods in nats.

Contrastive divergence (Hinton 2002): the log-likelihood gradient of p(v) = exp(-F(v)) / Z is

    d log p(v) / d theta = -dF(v)/dtheta + E_{v' ~ p}[dF(v')/dtheta]

and CD-k replaces the model expectation by v_k, k block Gibbs sweeps started at the data v_0. As a
loss whose gradient is exactly that estimate (v_k held constant):

    L = mean_batch F(v_0) - mean_chains F(v_k)  [+ weight_cost / 2 ||W||^2]      (``loss``)

Persistent CD (Tieleman 2008) starts the chains where the last update left them instead of at the
data; the chains are this objective's state (``state_dict``), saved in every checkpoint so a resumed
run continues the same chains.

Evaluation: per example the free energy F(v) and the mean-field reconstruction error; per split the
exact test log-likelihood mean(-F(v)) - log Z when H <= ``exact_max_hidden`` (``partition.log_z_exact``)
and, in the final evaluation, the AIS estimate with a base-rate model (``partition.log_z_ais``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.families.energy.partition import (
    AISBudgetError,
    base_rate_loglik,
    log_z_ais,
    log_z_exact,
)
from dlzoo.families.energy.rbm import base_rate_bias
from dlzoo.protocols import GenerativeObjective

EVAL_SEED = 0  # AIS chains are drawn from a generator with this seed: reproducible numbers
EVAL_BATCH = 1000


@torch.no_grad()
def mean_neg_free_energy(model: Any, x: torch.Tensor) -> float:
    """mean over the rows of x of -F(x), in float64 sums."""
    total = 0.0
    for start in range(0, len(x), EVAL_BATCH):
        total += float(-model.free_energy(x[start : start + EVAL_BATCH]).double().sum())
    return total / len(x)


class RBMObjective(GenerativeObjective):
    """CD-k / PCD-k on the free energy; exact and AIS log-likelihoods at evaluation."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        k: int = Field(1, ge=1, le=1000, description="Gibbs sweeps per negative sample (CD-k / PCD-k)")
        persistent: bool = Field(
            False, description="persistent chains (PCD, Tieleman 2008) instead of restarting at the data"
        )
        n_chains: int | None = Field(
            None, ge=1, description="PCD: number of persistent chains (default: the batch size)"
        )
        weight_cost: float = Field(
            0.0,
            ge=0,
            description="L2 penalty on the weights W only, not the biases (Hinton 2010 Sec. 10: 1e-4 to 1e-2): "
            "adds weight_cost / 2 * ||W||^2 to the loss",
        )
        exact_max_hidden: int = Field(
            20, ge=0, le=30, description="report the exact log-likelihood (2^H enumeration) when H <= this"
        )
        ais_chains: int = Field(100, ge=0, description="AIS chains of the final evaluation (0 = no AIS)")
        ais_betas: int = Field(1000, ge=3, description="AIS intermediate distributions K (S&M 2008 used 14500)")
        ais_max_gflop: float = Field(
            2000.0, gt=0, description="refuse an AIS run whose work (4 M K D H flops) is over this budget"
        )

    def __init__(self, cfg: RBMObjective.Config) -> None:
        self.cfg = cfg
        self.chains: torch.Tensor | None = None  # (n_chains, D) PCD's persistent negative particles

    # -- training --------------------------------------------------------------------------------
    def loss(self, model: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """L = mean F(v_0) - mean F(v_k): its gradient is the CD-k (or PCD-k) estimate."""
        v0 = x.reshape(len(x), -1)  # (B, D)
        with torch.no_grad():
            if self.cfg.persistent:
                if self.chains is None:  # start the chains at data (the first batch, repeated if needed)
                    n = self.cfg.n_chains or len(v0)
                    self.chains = v0[torch.arange(n) % len(v0)].clone()
                start = self.chains
            else:
                start = v0
            vk = model.gibbs(start, self.cfg.k)  # (B or n_chains, D) negative particles
            if self.cfg.persistent:
                self.chains = vk
        fe = model(torch.cat([v0, vk]))  # (B + n, ) one forward: DDP sees one call
        loss = fe[: len(v0)].mean() - fe[len(v0) :].mean()  # mean F(v_0) - mean F(v_k)
        if self.cfg.weight_cost > 0:  # gradient + weight_cost * W: a pull of W towards 0, biases free
            loss = loss + 0.5 * self.cfg.weight_cost * model.W.pow(2).sum()
        # (no reconstruction error here: it cost ~40% of a 25-unit step; evaluation reports it)
        return loss, {"free_energy": fe.detach()[: len(v0)].mean()}

    def state_dict(self) -> dict[str, Any]:
        """The persistent chains (PCD), or nothing."""
        return {} if self.chains is None else {"chains": self.chains}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.chains = state.get("chains")

    # -- evaluation ------------------------------------------------------------------------------
    @staticmethod
    def _recon(mean: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (binary v) or squared error (Gaussian v) of a reconstruction, summed: (B,)."""
        if ((v == 0) | (v == 1)).all():
            return F.binary_cross_entropy(mean.clamp(1e-7, 1 - 1e-7), v, reduction="none").sum(-1)
        return (mean - v).pow(2).sum(-1)

    @torch.no_grad()
    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> dict[str, torch.Tensor]:
        """Per-example free energy F(v) and mean-field reconstruction error: (B,) each."""
        v = x.reshape(len(x), -1)
        return {
            "free_energy": model.free_energy(v),
            "recon_error": self._recon(model.reconstruct(v).reshape(v.shape), v),
        }

    @torch.no_grad()
    def split_metrics(self, model: Any, data: Any, split: str, *, final: bool = False) -> dict[str, float]:
        """loglik_exact (H <= exact_max_hidden), and at the final evaluation loglik_ais with its log Z."""
        x = getattr(data, split).x.to(model.W.device)
        out: dict[str, float] = {}
        neg_f = mean_neg_free_energy(model, x) + model.log_jacobian()  # mean -F(v) in raw units
        if model.n_hidden <= self.cfg.exact_max_hidden:
            log_z = float(log_z_exact(model, max_hidden=self.cfg.exact_max_hidden))
            out.update(log_z_exact=log_z, loglik_exact=neg_f - log_z)
        if final and self.cfg.ais_chains > 0 and model.visible == "bernoulli":
            b_a = base_rate_bias(data.train.x)
            out["base_rate_loglik"] = float(base_rate_loglik(x.cpu(), b_a).mean())
            g = torch.Generator(device=model.W.device).manual_seed(EVAL_SEED)
            try:
                ais = log_z_ais(
                    model,
                    b_a,
                    n_chains=self.cfg.ais_chains,
                    n_betas=self.cfg.ais_betas,
                    generator=g,
                    budget_gflop=self.cfg.ais_max_gflop,
                )
            except AISBudgetError as e:
                raise AISBudgetError(f"final evaluation: {e}") from None
            out.update(log_z_ais=ais.log_z, loglik_ais=neg_f - ais.log_z, loglik_ais_low=neg_f - ais.log_z_high)
        return out

    # -- inference (figures, and served by pipeline.py) ------------------------------------------
    @staticmethod
    @torch.no_grad()
    def sample(model: Any, n: int, generator: torch.Generator | None = None, *, steps: int = 1000) -> torch.Tensor:
        """n samples after ``steps`` Gibbs sweeps from uniform noise; the last sweep's means (Bernoulli)
        or the Gaussian means: (n, *input_shape)."""
        device = model.W.device
        if model.visible == "bernoulli":
            v = torch.bernoulli(torch.full((n, model.n_visible), 0.5), generator=generator).to(device)
        else:
            v = torch.randn(n, model.n_visible, generator=generator).to(device)
        v = model.gibbs(v, steps - 1, generator) if steps > 1 else v
        mean = model.visible_mean(model.sample_hidden(v, generator))  # (n, D)
        return mean.reshape(n, *model.input_shape)

    @staticmethod
    @torch.no_grad()
    def reconstruct(model: Any, x: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction E[v | h = p(h | v)]; grey levels are read as visible probabilities."""
        return model.reconstruct(x)
