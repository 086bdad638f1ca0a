"""Objectives of the deterministic autoencoders: vanilla, denoising, sparse, contractive.

Every one minimizes, per example, a reconstruction loss of the *clean* x plus a penalty:

    vanilla      L(x, g(f(x)))
    denoising    L(x, g(f(x~))),  x~ ~ q_D(x~ | x)                       (Vincent et al. 2008, Sec. 2.3)
    sparse       L(x, g(f(x))) + beta sum_j KL(rho || rho^_j),  rho^_j = mean_batch h_j   (Ng 2011, Sec. 3)
                 or            + lambda sum_j |h_j|                                     (L1 on the codes)
    contractive  L(x, g(f(x))) + lambda ||J_f(x)||_F^2                    (Rifai et al. 2011, eq. 7)

with L = cross-entropy sum_i -x_i log y_i - (1 - x_i) log(1 - y_i), y = sigmoid(logits) ("bce",
Vincent et al. 2008 eq. for x in [0, 1]), or the squared error sum_i (y_i - x_i)^2 ("mse"), summed
over pixels. ``AutoencoderObjective`` is the vanilla one and holds the shared evaluation (figures
are in ``plots.py``, serving in ``pipeline.py``); the three others override ``inputs`` (the
corruption) or ``penalty``. One level of subclassing, each a few lines.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.families.autoencoder import jacobian
from dlzoo.protocols import GenerativeObjective

EVAL_SEED = 0  # the evaluation corruption is drawn from a generator with this seed: reproducible numbers
EVAL_BATCH = 500


def corrupt(x: torch.Tensor, *, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x~ ~ q_D(x~ | x): "mask" zeroes each pixel with probability ``level`` (Vincent et al. 2008, Sec. 2.3);
    "gaussian" adds N(0, level^2) noise (Vincent et al. 2010, Sec. 4.3). (B, ...) -> (B, ...)."""
    if kind == "mask":
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= level  # (B, ...) bool
        return x * keep
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device)
    raise ValueError(f"unknown noise {kind!r}; valid: gaussian, mask")


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """L(x, y) summed over pixels, y = sigmoid(logits): (B, ...) -> (B,)."""
    if kind == "bce":
        # -sum_i x_i log y_i + (1 - x_i) log(1 - y_i)
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(-1)
    return (torch.sigmoid(logits) - x).pow(2).flatten(1).sum(-1)  # sum_i (y_i - x_i)^2


class AutoencoderObjective(GenerativeObjective):
    """The vanilla autoencoder: reconstruct x from h = f(x). Base of the regularized ones."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        loss: Literal["bce", "mse"] = Field("bce", description="reconstruction loss L, summed over pixels")
        eval_noise: Literal["mask", "gaussian"] = Field(
            "mask", description="corruption of the denoising evaluation (every model is scored on it)"
        )
        eval_noise_level: float = Field(0.25, ge=0, description="masked fraction, or Gaussian sd, at evaluation")
        probe: bool = Field(True, description="fit a linear probe on the train codes at the final evaluation")
        probe_steps: int = Field(100, ge=1, description="L-BFGS iterations of the linear probe")
        jacobian_examples: int = Field(
            1000, ge=0, description="examples of the split whose exact Jacobian norm is evaluated (0 = skip)"
        )

    corrupts: ClassVar[bool] = False  # the denoising AE trains on x~: its plots show x~ too
    needs_input_grad: ClassVar[bool] = False  # the Hutchinson Jacobian differentiates h w.r.t. the input

    def __init__(self, cfg: BaseModel) -> None:
        self.cfg = cfg

    # -- training ------------------------------------------------------------------------------
    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder sees during training: x itself (the denoising AE corrupts it)."""
        return x

    def penalty(self, model: Any, x_in: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted regularizer added to the mean reconstruction loss, and its unweighted logs."""
        return torch.zeros((), device=h.device), {}

    def loss(self, model: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mean over the batch of L(x, g(f(x_in))) + penalty; computed from ``model(x_in)`` (DDP)."""
        x_in = self.inputs(x)
        if self.needs_input_grad:
            x_in = x_in.detach().requires_grad_(True)
        logits, h = model(x_in)  # (B, *input_shape), (B, K)
        recon = reconstruction_loss(logits, x, self.cfg.loss).mean()  # against the clean x
        penalty, logs = self.penalty(model, x_in, h)
        return recon + penalty, {"recon": recon, "mean_activation": h.mean(), **logs}

    # -- evaluation ----------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> dict[str, torch.Tensor]:
        """Per example: bce (nats, summed over pixels), mse (per pixel), mean_activation (over code units)."""
        logits, h = model(x)
        return {
            "bce": reconstruction_loss(logits, x, "bce"),  # (B,)
            "mse": (torch.sigmoid(logits) - x).pow(2).flatten(1).mean(-1),  # (B,)
            "mean_activation": h.mean(-1),  # (B,)
        }

    def split_metrics(self, model: Any, data: Any, split: str, *, final: bool = False) -> dict[str, float]:
        """Whole-split metrics: PSNRs, the exact Jacobian norm, and (final) linear-probe accuracy."""
        from dlzoo.metrics.representation import linear_probe_accuracy, psnr

        part = getattr(data, split)
        device = next(model.parameters()).device
        batches = [part.x[i : i + EVAL_BATCH].to(device) for i in range(0, len(part.x), EVAL_BATCH)]
        g = torch.Generator(device=device).manual_seed(EVAL_SEED)
        noisy = [corrupt(x, kind=self.cfg.eval_noise, level=self.cfg.eval_noise_level, generator=g) for x in batches]
        out = {
            "psnr": psnr((self.reconstruct(model, x), x) for x in batches),
            "denoise_psnr": psnr((self.reconstruct(model, xn), x) for xn, x in zip(noisy, batches, strict=True)),
            "noisy_psnr": psnr((xn.clamp(0, 1), x) for xn, x in zip(noisy, batches, strict=True)),
        }
        n = min(self.cfg.jacobian_examples, len(part.x))
        if n > 0:
            with torch.enable_grad():
                sq = torch.cat(
                    [
                        jacobian.frobenius_sq(model, part.x[i : min(i + EVAL_BATCH, n)].to(device)).detach()
                        for i in range(0, n, EVAL_BATCH)
                    ]
                )
            out["jacobian_norm"] = float(sq.sqrt().mean())
        if final and self.cfg.probe and part.y is not None and data.train.y is not None:
            out["probe_accuracy"] = linear_probe_accuracy(
                codes(model, data.train.x), data.train.y, codes(model, part.x), part.y, steps=self.cfg.probe_steps
            )
        return out

    # -- inference (evaluation, figures, and served by pipeline.py) -----------------------------
    @staticmethod
    @torch.no_grad()
    def reconstruct(model: Any, x: torch.Tensor) -> torch.Tensor:
        """sigmoid(g(f(x))): (B, *input_shape) in [0, 1]."""
        return torch.sigmoid(model.decode(model.encode(x)))


@torch.no_grad()
def codes(model: Any, x: torch.Tensor) -> torch.Tensor:
    """h = f(x) in batches, (N, code_dim), on the CPU; for a VAE the code is the posterior mean mu."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(x), EVAL_BATCH):
        h = model.encode(x[i : i + EVAL_BATCH].to(device))
        out.append((h[0] if isinstance(h, tuple) else h).cpu())
    return torch.cat(out)


class DenoisingObjective(AutoencoderObjective):
    """Denoising AE (Vincent et al. 2008): reconstruct the clean x from a corrupted x~."""

    corrupts = True

    class Config(AutoencoderObjective.Config):
        noise: Literal["mask", "gaussian"] = Field("mask", description="q_D: masking noise or additive Gaussian")
        noise_level: float = Field(0.25, ge=0, description="masked fraction nu, or the Gaussian sd sigma")

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        return corrupt(x, kind=self.cfg.noise, level=self.cfg.noise_level)  # fresh noise every batch


class SparseObjective(AutoencoderObjective):
    """Sparse AE: KL(rho || rho^_j) on the batch-mean activation of sigmoid codes, or L1 on the codes."""

    class Config(AutoencoderObjective.Config):
        sparsity: Literal["kl", "l1"] = Field("kl", description="penalty: KL to the target rate, or L1 of h")
        target: float = Field(0.05, gt=0, lt=1, description="rho: target mean activation of each code unit (kl)")
        weight: float = Field(0.1, ge=0, description="beta (kl) or lambda (l1), per example")

    def penalty(self, model: Any, x_in: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.cfg.sparsity == "l1":
            l1 = h.abs().sum(-1).mean()  # lambda sum_j |h_j|, averaged over the batch
            return self.cfg.weight * l1, {"l1": l1}
        if getattr(model, "code_activation", "sigmoid") != "sigmoid":
            raise ValueError(
                f"the KL sparsity penalty needs sigmoid codes in (0, 1), got code_activation="
                f"{model.code_activation!r}; set model.code_activation=sigmoid or task.sparsity=l1"
            )
        rho, rho_hat = self.cfg.target, h.mean(0).clamp(1e-6, 1 - 1e-6)  # (K,) mean activation over the batch
        # KL(rho || rho^_j) = rho log(rho / rho^_j) + (1 - rho) log((1 - rho) / (1 - rho^_j))   (Ng 2011, Sec. 3)
        kl = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
        return self.cfg.weight * kl, {"sparsity_kl": kl}


class ContractiveObjective(AutoencoderObjective):
    """Contractive AE (Rifai et al. 2011): lambda ||J_f(x)||_F^2, exact or by Hutchinson's estimator."""

    class Config(AutoencoderObjective.Config):
        weight: float = Field(0.1, ge=0, description="lambda, the weight of ||J_f(x)||_F^2 per example")
        jacobian: Literal["exact", "hutchinson"] = Field(
            "exact",
            description="exact: closed form (one-layer MLP encoder) or full Jacobian; hutchinson: "
            "unbiased estimate from random projections J^T u (cheap for conv encoders)",
        )
        probes: int = Field(1, ge=1, description="random projections u per example (hutchinson)")

    def __init__(self, cfg: BaseModel) -> None:
        super().__init__(cfg)
        self.needs_input_grad = cfg.jacobian == "hutchinson"  # type: ignore[misc]

    def penalty(self, model: Any, x_in: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.cfg.jacobian == "hutchinson":
            sq = jacobian.hutchinson(h, x_in, probes=self.cfg.probes)  # (B,)
        elif jacobian.has_closed_form(model):
            sq = jacobian.closed_form(h, model.encoder.code.weight, model.code_activation)  # (B,)
        else:
            sq = jacobian.exact(model.encode, x_in)  # (B,) full Jacobians: deeper MLP encoders
        sq = sq.mean()
        return self.cfg.weight * sq, {"jacobian_sq": sq}
