"""Training a deep EBM by short-run Langevin dynamics with a replay buffer (Du & Mordatch 2019).

Maximum likelihood's gradient for p(x) = exp(-E(x)) / Z is  E_data[grad E(x)] - E_model[grad E(x)];
the model expectation uses samples x- of K Langevin steps (``ebm.langevin``) started from a replay buffer
(probability 1 - ``reinit``) or uniform noise on the sampling box: [-init_range, init_range]^d, or
[``low``, ``high``]^d when both are set (images in [0, 1]: MNIST); Langevin clamps its steps to the box.
The loss, with the energy magnitude regularizer of Sec. 3.3 (alpha):

    L = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2)

The buffer (``state_dict``) is saved in every checkpoint. Evaluation: samples from ``eval_steps``
Langevin steps started at uniform noise; on the 2-D ``ring`` / ``grid`` the gan family's mode-coverage
protocol (``dlzoo.metrics.modes``: 2500 samples, modes captured, high-quality %).
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dlzoo.families.energy.ebm import langevin
from dlzoo.protocols import GenerativeObjective

EVAL_SEED = 0


class LangevinObjective(GenerativeObjective):
    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        steps: int = Field(40, ge=1, le=1000, description="Langevin steps K per negative sample in training")
        step_size: float = Field(0.01, gt=0, description="lambda: the gradient step of each Langevin step")
        noise: float = Field(0.005, ge=0, description="sigma: std of the Gaussian noise of each Langevin step")
        buffer_size: int = Field(10_000, ge=1, description="replay buffer of past negative samples")
        reinit: float = Field(0.05, ge=0, le=1, description="fraction of chains restarted from uniform noise")
        init_range: float = Field(5.0, gt=0, description="noise and samples live in [-init_range, init_range]^d")
        low: float | None = Field(None, description="lower bound of the box (with high; default -init_range)")
        high: float | None = Field(None, description="upper bound of the box (with low; default init_range)")
        alpha: float = Field(0.1, ge=0, description="weight of the energy magnitude regularizer")
        eval_samples: int = Field(2500, ge=1, description="samples drawn per evaluation (2500: the toy protocol)")
        eval_steps: int = Field(500, ge=1, description="Langevin steps from noise of each evaluation sample")

        @model_validator(mode="after")
        def _box(self) -> LangevinObjective.Config:
            if (self.low is None) != (self.high is None):
                raise ValueError(f"task.low and task.high go together; got low={self.low}, high={self.high}")
            if self.low is not None and not self.low < self.high:
                raise ValueError(f"task.low must be below task.high; got low={self.low}, high={self.high}")
            return self

    def __init__(self, cfg: LangevinObjective.Config) -> None:
        self.cfg = cfg
        self.buffer: torch.Tensor | None = None  # (buffer_size, *input_shape)
        r = cfg.init_range
        self.bounds = (-r, r) if cfg.low is None else (cfg.low, cfg.high)  # the sampling box

    def uniform(self, n: int, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        lo, hi = self.bounds
        return lo + torch.rand((n, *shape), generator=generator) * (hi - lo)

    def loss(self, model: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        shape = tuple(x.shape[1:])
        if self.buffer is None:
            self.buffer = self.uniform(self.cfg.buffer_size, shape)
        idx = torch.randint(0, len(self.buffer), (len(x),))  # (B,) buffer slots
        start = self.buffer[idx].clone()
        fresh = torch.rand(len(x)) < self.cfg.reinit
        start[fresh] = self.uniform(int(fresh.sum()), shape)
        x_neg = langevin(
            model, start.to(x.device), steps=self.cfg.steps, step_size=self.cfg.step_size,
            noise=self.cfg.noise, bounds=self.bounds,
        )  # fmt: skip
        self.buffer[idx] = x_neg.cpu()
        e = model(torch.cat([x, x_neg]))  # (2B,) one forward
        e_pos, e_neg = e[: len(x)], e[len(x) :]
        loss = e_pos.mean() - e_neg.mean() + self.cfg.alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
        return loss, {"energy_pos": e_pos.mean().detach(), "energy_neg": e_neg.mean().detach()}

    def state_dict(self) -> dict[str, Any]:
        return {} if self.buffer is None else {"buffer": self.buffer}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buffer = state.get("buffer")

    @torch.no_grad()
    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> dict[str, torch.Tensor]:
        """The energy of each example of the split (B,)."""
        return {"energy": model(x)}

    def split_metrics(self, model: Any, data: Any, split: str, *, final: bool = False) -> dict[str, float]:
        """Mode coverage of eval_samples Langevin samples on the 2-D ring / grid (none on other data)."""
        from dlzoo.data.toy2d import grid_modes, ring_modes
        from dlzoo.metrics.modes import mode_coverage

        modes = {"ring": ring_modes, "grid": grid_modes}.get(data.info.name)
        if modes is None:
            return {}
        g = torch.Generator().manual_seed(EVAL_SEED)
        samples = self.sample_with(model, self.cfg.eval_samples, g, steps=self.cfg.eval_steps)
        return mode_coverage(samples, modes())

    def sample_with(self, model: Any, n: int, generator: torch.Generator | None, *, steps: int) -> torch.Tensor:
        start = self.uniform(n, tuple(model.input_shape), generator)
        return langevin(
            model, start, steps=steps, step_size=self.cfg.step_size, noise=self.cfg.noise, bounds=self.bounds,
            generator=generator,
        )  # fmt: skip
