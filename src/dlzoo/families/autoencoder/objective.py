"""The VAE objective: the negative ELBO to train on, importance-sampled NLL to evaluate with.

Kingma & Welling (2014), eq. 3 and eq. 10, for one example x with a Bernoulli decoder:

    -ELBO(x) = -E_q(z|x)[log p(x|z)] + KL(q(z|x) || N(0, I))
    KL       = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)           (App. B, closed form)
    log p(x|z) = sum_i x_i log y_i + (1 - x_i) log(1 - y_i),  y = sigmoid(logits)   (App. C.1)

Burda, Grosse & Salakhutdinov (2016), eq. 8: with z_k ~ q(z|x),

    log p(x) ~= log 1/K sum_k p(x|z_k) p(z_k) / q(z_k|x)      (a lower bound, tight as K -> inf)

so the reported ``nll`` (K = ``eval_iw_samples``, 1000 by default) is <= ``neg_elbo`` (K = 1).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.metrics import importance_sampled_nll
from dlzoo.protocols import GenerativeObjective

LOG_2PI = math.log(2 * math.pi)
EVAL_SEED = 0  # evaluation noise (binarization, eps) comes from a generator with this seed: reproducible numbers
IS_CHUNK_ELEMENTS = 4_000_000  # pixels decoded at once by the importance sampler (bounds its memory)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) summed over the latent dimension: (B, D) -> (B,)."""
    # KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)   (Kingma & Welling 2014, App. B)
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = sum_i x_i log y_i + (1 - x_i) log(1 - y_i), y = sigmoid(logits): (B, ...) -> (B,)."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(-1)


def log_importance_weights(
    model: Any,
    x: torch.Tensor,
    n: int,
    *,
    generator: torch.Generator | None = None,
    posterior: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x),  z_k = mu + sigma * eps_k: (n, B).

    ``posterior`` (mu, logvar) skips re-encoding x when the caller draws many chunks.
    """
    mu, logvar = posterior if posterior is not None else model.encode(x)  # (B, D) each
    eps = torch.randn((n, *mu.shape), generator=generator, device=mu.device)  # (n, B, D)
    z = mu + torch.exp(0.5 * logvar) * eps  # (n, B, D)
    logits = model.decode(z.reshape(-1, mu.shape[-1]))  # (n*B, *input_shape)
    x_rep = x.unsqueeze(0).expand(n, *x.shape).reshape(logits.shape)  # (n*B, *input_shape)
    log_px_z = bernoulli_log_likelihood(logits, x_rep).reshape(n, -1)  # (n, B)
    # log N(z; 0, I) and log N(z; mu, sigma^2); (z - mu) / sigma = eps exactly
    log_pz = -0.5 * (LOG_2PI + z.pow(2)).sum(-1)  # (n, B)
    log_qz = -0.5 * (LOG_2PI + logvar + eps.pow(2)).sum(-1)  # (n, B)
    return log_px_z + log_pz - log_qz  # (n, B)


class VAEObjective(GenerativeObjective):
    """Negative ELBO (Kingma & Welling 2014) with a Bernoulli decoder; see the module docstring."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        beta: float = Field(1.0, ge=0, description="weight of the KL term in the training loss (1 = the ELBO)")
        likelihood: Literal["bernoulli"] = Field("bernoulli", description="decoder distribution p(x|z)")
        dynamic_binarize: bool = Field(
            False,
            description="train on x_b ~ Bernoulli(x) redrawn every batch (Burda et al. 2016); "
            "val/test are binarized once by a generator seeded with EVAL_SEED",
        )
        eval_iw_samples: int = Field(1000, ge=0, description="K of the final importance-sampled test NLL (0 = skip)")
        val_iw_samples: int = Field(0, ge=0, description="K of the per-round val NLL (0 = skip, neg ELBO only)")

    def __init__(self, cfg: VAEObjective.Config) -> None:
        self.cfg = cfg

    # -- training ------------------------------------------------------------------------------
    def loss(self, model: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean over the batch of -E_q[log p(x|z)] + beta KL, one reparameterized z per example.

        Computed from ``model(x)`` (the forward call), so DDP sees the parameters it synchronizes.
        """
        if self.cfg.dynamic_binarize:
            x = torch.bernoulli(x)  # (B, ...) a fresh binary image each time it is seen
        logits, mu, logvar = model(x)  # train mode: z = mu + sigma * eps
        recon = -bernoulli_log_likelihood(logits, x)  # (B,)
        kl = gaussian_kl(mu, logvar)  # (B,)
        loss = (recon + self.cfg.beta * kl).mean()
        return loss, {"recon": recon.mean(), "kl": kl.mean(), "neg_elbo": (recon + kl).mean()}

    # -- evaluation ----------------------------------------------------------------------------
    def binarize_for_eval(self, x: torch.Tensor) -> torch.Tensor:
        if not self.cfg.dynamic_binarize:
            return x
        g = torch.Generator(device=x.device).manual_seed(EVAL_SEED)
        return torch.bernoulli(x, generator=g)

    @torch.no_grad()
    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> dict[str, torch.Tensor]:
        """Per-example neg_elbo, recon, kl (one z ~ q each) and, with K > 0, the IS estimate nll: (B,) each."""
        x = self.binarize_for_eval(x)
        g = torch.Generator(device=x.device).manual_seed(EVAL_SEED)
        mu, logvar = model.encode(x)  # (B, D)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g, device=mu.device)  # (B, D)
        recon = -bernoulli_log_likelihood(model.decode(z), x)  # (B,)
        kl = gaussian_kl(mu, logvar)  # (B,)
        out = {"neg_elbo": recon + kl, "recon": recon, "kl": kl}
        k = self.cfg.eval_iw_samples if final else self.cfg.val_iw_samples
        if k > 0:
            chunk = max(1, min(k, IS_CHUNK_ELEMENTS // x.numel()))
            out["nll"] = importance_sampled_nll(
                lambda xb, n: log_importance_weights(model, xb, n, generator=g, posterior=(mu, logvar)),
                x,
                k=k,
                chunk=chunk,
            )  # (B,)
        return out

    # -- inference (figures, and served by pipeline.py) ----------------------------------------
    @staticmethod
    @torch.no_grad()
    def sample(model: Any, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Bernoulli means sigmoid(f(z)), z ~ N(0, I): (n, *input_shape) in [0, 1]."""
        device = next(model.parameters()).device
        z = torch.randn(n, model.latent_dim, generator=generator).to(device)  # (n, D)
        return torch.sigmoid(model.decode(z))

    @staticmethod
    @torch.no_grad()
    def reconstruct(model: Any, x: torch.Tensor) -> torch.Tensor:
        """Bernoulli means of p(x | z = mu(x)), deterministic: (B, *input_shape) in [0, 1]."""
        mu, _ = model.encode(x)
        return torch.sigmoid(model.decode(mu))
