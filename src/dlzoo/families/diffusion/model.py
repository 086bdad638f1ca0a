"""The diffusion model as one module: a denoiser, its EMA copy, the data transform and the schedule.

``Diffusion.forward(x_t, t=None, y=None)`` is the denoiser on the model's space (what is trained,
exported and called by the samplers): (B, *shape), t (B,) float time index in [0, T-1] (None: T / 2),
y (B,) long class (None: the null class) -> the network's prediction (eps, x0 or v, ``prediction``).
In train mode the online network answers; in eval mode the exponential moving average of its weights
(``ema_decay`` > 0), the network that samples, is evaluated, served and exported.

Data <-> model space: vectors are standardized (z = (x - mean) / std, statistics fitted on the train
split); images in [0, 1] are mapped to [-1, 1] (z = 2 x - 1, Ho et al. 2020 Sec. 4).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from dlzoo.families.diffusion.schedule import NoiseSchedule, make_betas
from dlzoo.layers import Standardize
from dlzoo.registry import RegistryError, choices_error

PREDICTIONS = ("eps", "x0", "v")


class Diffusion(nn.Module):
    def __init__(
        self,
        net: nn.Module,
        *,
        input_shape: tuple[int, ...],
        schedule: str = "linear",
        timesteps: int = 1000,
        prediction: str = "eps",
        ema_decay: float = 0.0,
        num_classes: int = 0,
        levels: int = 256,
    ) -> None:
        super().__init__()
        if prediction not in PREDICTIONS:
            raise RegistryError(choices_error("prediction", prediction, PREDICTIONS))
        if not 0 <= ema_decay < 1:
            raise RegistryError(f"ema_decay must be in [0, 1), got {ema_decay}")
        self.input_shape, self.prediction = tuple(input_shape), prediction
        self.num_classes, self.levels, self.ema_decay = num_classes, levels, ema_decay
        self.is_image = len(self.input_shape) == 3
        self.schedule = NoiseSchedule(make_betas(schedule, timesteps))
        self.net = net
        self.standardize = None if self.is_image else Standardize(self.input_shape)
        self.ema = None
        if ema_decay > 0:
            self.ema = copy.deepcopy(net).requires_grad_(False)
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))

    @property
    def T(self) -> int:
        return self.schedule.T

    def denoiser(self) -> nn.Module:
        """The network that answers now: the EMA copy in eval mode (when kept), else the online one."""
        return self.ema if (self.ema is not None and not self.training) else self.net

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None, y: torch.Tensor | None = None) -> torch.Tensor:
        if t is None:  # written with x's batch size so that export keeps it dynamic
            t = x.reshape(x.shape[0], -1)[:, 0] * 0 + self.T / 2
        return self.denoiser()(x, t, y)

    @torch.no_grad()
    def update_ema(self) -> None:
        """theta_ema <- d theta_ema + (1 - d) theta, d = min(decay, (1 + n) / (10 + n)) (warm-up after n updates)."""
        if self.ema is None:
            return
        n = int(self.ema_updates)
        d = min(self.ema_decay, (1 + n) / (10 + n))
        for pe, p in zip(self.ema.parameters(), self.net.parameters(), strict=True):
            pe.lerp_(p.detach(), 1 - d)
        for be, b in zip(self.ema.buffers(), self.net.buffers(), strict=True):
            be.copy_(b)
        self.ema_updates += 1

    # -- data space <-> model space ----------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 - 1 if self.is_image else self.standardize(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if self.is_image:
            return ((z + 1) / 2).clamp(0, 1)
        return z * self.standardize.std + self.standardize.mean

    def log_det_encode(self) -> float:
        """log |dz/dx| of encode, summed over the dimensions (for the likelihood in data space)."""
        d = math.prod(self.input_shape)
        if self.is_image:
            return d * math.log(2.0)
        return float(-self.standardize.std.log().sum())
