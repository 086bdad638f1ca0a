"""Figures of the diffusion models: 2-D data beside samples, or a grid of image samples (each row the classes 0..9
for a class-conditional model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dlzoo.families.diffusion.samplers import drain, generate
from dlzoo.protocols import Plots

PLOT_SEED = 0


class DiffusionPlots(Plots):
    @staticmethod
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        """samples.png: samples over the data (2-D, with the mode circles of ring/grid), or a grid (images)."""
        model.eval()
        g = torch.Generator().manual_seed(PLOT_SEED)
        cfg = objective.cfg
        n = (60 if model.num_classes else 64) if model.is_image else 2000
        labels = torch.arange(n) % model.num_classes if model.num_classes else None
        with torch.no_grad():
            x = drain(generate(model, n, sampler=cfg.eval_sampler, steps=cfg.eval_steps, labels=labels, generator=g))
        folder.mkdir(parents=True, exist_ok=True)
        if model.is_image:
            from dlzoo.plots import image_grid

            title = f"{cfg.eval_sampler} {cfg.eval_steps} steps"
            nrow = 10 if model.num_classes else 8  # conditional: row i holds classes 0..9
            return [image_grid(x.cpu(), folder / "samples.png", title=title, nrow=nrow)]
        from dlzoo.plots import points_2d

        title = f"{cfg.eval_sampler} {cfg.eval_steps} steps (black) over the data"
        return [points_2d(x.cpu(), folder / "samples.png", title=title, real=data.train.x[:n], modes=modes)]
