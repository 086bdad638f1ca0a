"""Maximum likelihood for flows: the loss is the mean negative log-likelihood in nats,

    L(theta) = -1/B sum_b log p_theta(x_b)        (log p from model.py, eq. 1 / eq. 2)

``evaluate`` reports each example's ``nll`` (nats; the generative paradigm adds ``bits_per_dim``).
Image flows are evaluated on dequantization noise from a generator seeded with EVAL_SEED, so the
numbers are reproducible. For 2-D data the final evaluation also integrates the learned density over
a grid (``density_integral``: 1 for a normalized density, up to the mass outside the box and the
grid's error).
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.protocols import GenerativeObjective, Losses, Metrics

EVAL_SEED = 0


@torch.no_grad()
def grid_log_density(
    model: Any, lo: tuple[float, float], hi: tuple[float, float], n: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log p on an n x n grid of cell centers over [lo, hi]: (xs (n,), ys (n,), log p (n, n) indexed [y, x])."""
    dev = next(model.parameters()).device
    xs = torch.linspace(lo[0], hi[0], n + 1)
    ys = torch.linspace(lo[1], hi[1], n + 1)
    xs, ys = (xs[1:] + xs[:-1]) / 2, (ys[1:] + ys[:-1]) / 2  # cell centers (n,)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx.flatten(), gy.flatten()], dim=1).to(dev)  # (n * n, 2)
    logp = torch.cat([model(chunk) for chunk in points.split(8192)]).view(n, n).cpu()
    return xs, ys, logp


def grid_integral(model: Any, lo: tuple[float, float], hi: tuple[float, float], *, n: int = 300) -> float:
    """Midpoint rule: sum over the grid of p(cell center) * cell area."""
    _, _, logp = grid_log_density(model, lo, hi, n)
    area = (hi[0] - lo[0]) * (hi[1] - lo[1]) / n**2
    return float(logp.double().exp().sum() * area)


def data_box(x: torch.Tensor, *, margin: float = 0.5) -> tuple[tuple[float, float], tuple[float, float]]:
    """The data's bounding box widened by ``margin`` of its size on every side."""
    lo, hi = x.min(0).values, x.max(0).values
    pad = margin * (hi - lo)
    return tuple((lo - pad).tolist()), tuple((hi + pad).tolist())  # type: ignore[return-value]


class FlowObjective(GenerativeObjective):
    """Negative log-likelihood of a flow; see the module docstring."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        integration_grid: int = Field(
            300,
            ge=0,
            le=2000,
            description="2-D data: n for the n x n grid on which the final evaluation integrates the density "
            "(test/density_integral); 0 turns it off",
        )

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def loss(self, model: Any, x: torch.Tensor) -> Losses:
        log_p = model(x)  # (B,)
        return -log_p.mean(), {}

    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> Metrics:
        inner = getattr(model, "module", model)
        if hasattr(inner, "levels"):  # images: the dequantization noise of the evaluation, seeded
            noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(EVAL_SEED)).to(x.device)
            return {"nll": -inner.log_prob(x, noise)}
        return {"nll": -model(x)}

    def split_metrics(self, model: Any, data: Any, split: str, *, final: bool = False) -> dict[str, float]:
        part = getattr(data, split)
        if not final or self.cfg.integration_grid == 0 or tuple(part.x.shape[1:]) != (2,):
            return {}
        lo, hi = data_box(data.train.x)
        return {"density_integral": grid_integral(model, lo, hi, n=self.cfg.integration_grid)}
