"""Training objective and evaluation of the diffusion models.

The simple loss (Ho et al. 2020, eq. 14), with the network predicting eps, x0 or v (``prediction``,
a model setting because the samplers need it; Salimans & Ho 2022 for v):

    L_simple = E_{t ~ U{0..T-1}, x_0, eps ~ N(0, I)} || target - net(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2

target = eps, x0, or v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 (schedule.py: NoiseSchedule.target). It is
the variational bound (eq. 5) with its weights dropped; with eps-prediction it is also denoising score
matching, score(x_t) = -eps / sqrt(1 - abar_t) (Song et al. 2021b, eq. 7). A class-conditional model
sees the null class with probability ``cond_drop`` (classifier-free guidance, Ho & Salimans 2022,
Alg. 1). After each loss the EMA copy of the weights is updated (model.py: Diffusion.update_ema).

Evaluation (the model in eval mode, i.e. its EMA weights): per example ``denoising_mse`` (the simple
loss at a seeded t and eps); on the 2-D ring / grid ``modes_captured``, ``high_quality_pct`` and
``mode_kl`` of ``eval_samples`` samples (the gan family's VEEGAN / PacGAN protocol); and in the final
evaluation ``nll`` (nats) and ``bits_per_dim`` through the probability-flow ODE on the first
``nll_examples`` examples of the split (likelihood.py).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.families.diffusion.likelihood import nll_data
from dlzoo.families.diffusion.samplers import SAMPLERS, drain, generate
from dlzoo.metrics.modes import PROTOCOL_SAMPLES
from dlzoo.protocols import GenerativeObjective, Losses, Metrics

EVAL_SEED = 0


def _inner(model: Any) -> Any:
    return getattr(model, "module", model)  # the Diffusion module under Fabric's wrapper


class DiffusionObjective(GenerativeObjective):
    """DDPM's simple loss; see the module docstring."""

    uses_labels = True  # the generative task passes y (when the data has labels): class conditioning

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        cond_drop: float = Field(
            0.1, ge=0, le=1, description="class-conditional models: probability of the null class (CFG; 0.1-0.2)"
        )
        eval_sampler: Literal[SAMPLERS] = Field("ddim", description=f"sampler of the evaluation: {', '.join(SAMPLERS)}")  # type: ignore[valid-type]
        eval_steps: int = Field(50, ge=1, description="denoising steps of the evaluation's samples")
        eval_samples: int = Field(PROTOCOL_SAMPLES, ge=1, description="samples drawn per mode evaluation (2500)")
        modes: Literal["none", "ring", "grid"] = Field(
            "none", description="2-D toys: the mixture whose mode coverage is measured (default ring / grid parameters)"
        )
        nll_examples: int = Field(
            0, ge=0, description="final evaluation: examples of the split whose NLL is integrated (ODE); 0 = none"
        )
        nll_steps: int = Field(100, ge=1, le=10000, description="RK4 steps of the likelihood ODE")

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def loss(self, model: Any, x: torch.Tensor, y: torch.Tensor | None = None) -> Losses:
        m = _inner(model)
        z = m.encode(x)  # model space (B, *shape)
        t = torch.randint(0, m.T, (len(z),)).to(z.device)
        noise = torch.randn_like(z)
        a = m.schedule.abar_at(t, z)
        xt = a.sqrt() * z + (1 - a).sqrt() * noise  # q(x_t | x_0), eq. 4
        labels = None
        if m.num_classes and y is not None:
            drop = torch.rand(len(y), device=y.device) < self.cfg.cond_drop
            labels = torch.where(drop, torch.full_like(y, m.num_classes), y)
        out = model(xt, t.float(), labels)
        loss = (out - m.schedule.target(m.prediction, z, noise, a)).pow(2).mean()
        m.update_ema()
        return loss, {}

    @torch.no_grad()
    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> Metrics:
        m = _inner(model)
        g = torch.Generator().manual_seed(EVAL_SEED)
        z = m.encode(x)
        t = torch.randint(0, m.T, (len(z),), generator=g).to(z.device)
        noise = torch.randn(z.shape, generator=g).to(z)
        a = m.schedule.abar_at(t, z)
        out = model(a.sqrt() * z + (1 - a).sqrt() * noise, t.float())
        err = (out - m.schedule.target(m.prediction, z, noise, a)).pow(2)
        return {"denoising_mse": err.reshape(len(z), -1).mean(1)}

    def split_metrics(self, model: Any, data: Any, split: str, *, final: bool = False) -> dict[str, float]:
        m, part, out = _inner(model), getattr(data, split), {}
        if self.cfg.modes != "none":
            from dlzoo.data.toy2d import grid_modes, ring_modes
            from dlzoo.metrics.modes import mode_coverage

            g = torch.Generator().manual_seed(EVAL_SEED)
            gen = generate(
                m, self.cfg.eval_samples, sampler=self.cfg.eval_sampler, steps=self.cfg.eval_steps, generator=g
            )
            samples = drain(gen).cpu()
            modes = ring_modes() if self.cfg.modes == "ring" else grid_modes()
            out.update(mode_coverage(samples, modes))
        if final and self.cfg.nll_examples:
            x = part.x[: self.cfg.nll_examples]
            g = torch.Generator().manual_seed(EVAL_SEED)
            dev = next(m.parameters()).device
            nll = torch.cat([nll_data(m, b.to(dev), steps=self.cfg.nll_steps, generator=g).cpu() for b in x.split(500)])
            out["nll"] = float(nll.mean())
            out["bits_per_dim"] = out["nll"] / (math.prod(x.shape[1:]) * math.log(2))
        return out
