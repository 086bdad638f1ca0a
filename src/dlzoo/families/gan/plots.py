"""Figures of the GANs: a grid of generated images, or generated points over a 2-D mixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dlzoo.paradigms import ADVERSARIAL_EVAL_SEED  # the figure shows the samples the paradigm evaluated
from dlzoo.protocols import Plots


class GANPlots(Plots):
    @staticmethod
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        """samples.png: a grid of 64 images, or ``task.eval_samples`` points over the mixture's centers (2-D toys)."""
        n = 64 if modes is None else objective.cfg.eval_samples
        samples = objective.sample(model, n, torch.Generator().manual_seed(ADVERSARIAL_EVAL_SEED)).cpu()
        if samples.ndim == 2 and samples.shape[1] == 2:
            return [scatter_2d(samples, data.train.x[: len(samples)], folder / "samples.png", modes=modes)]
        square = samples.ndim == 2 and round(samples.shape[1] ** 0.5) ** 2 == samples.shape[1]
        if samples.ndim == 4 or square:  # (N, C, H, W), or flat square images such as (N, 784)
            from dlzoo.plots import image_grid  # matplotlib: only when drawing

            return [image_grid(samples, folder / "samples.png", title="generated samples")]
        return []


def scatter_2d(samples: torch.Tensor, real: torch.Tensor, path: Path, *, modes: Any = None) -> Path:
    """Generated points (black) over real ones (light) and the mixture's centers with 3-std circles."""
    from dlzoo.plots import points_2d

    return points_2d(samples, path, real=real, modes=modes, title="samples (black), 3-std circles of the modes (red)")
