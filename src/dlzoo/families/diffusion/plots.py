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
        """samples.png: data | samples (2-D), or 64 samples by DDIM (images)."""
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
        return [scatter(data.train.x, x.cpu(), folder / "samples.png")]


def scatter(real: torch.Tensor, samples: torch.Tensor, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
    axes[0].scatter(real[:2000, 0], real[:2000, 1], s=1, c="tab:orange", alpha=0.5)
    axes[0].set_title("data")
    axes[1].scatter(samples[:, 0], samples[:, 1], s=1, c="black", alpha=0.5)
    axes[1].set_title(f"{len(samples)} samples")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
