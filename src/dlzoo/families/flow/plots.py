"""Figures of the flows: for 2-D data the learned density as a heat map beside the data and samples;
for images a grid of samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dlzoo.families.flow.objective import data_box, grid_log_density
from dlzoo.protocols import Plots

PLOT_SEED = 0


class FlowPlots(Plots):
    @staticmethod
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        """density.png (2-D: data | learned density | samples) or samples.png (images)."""
        model.eval()
        g = torch.Generator().manual_seed(PLOT_SEED)
        with torch.no_grad():
            samples = model.sample(64 if len(model.input_shape) == 3 else 2000, g).cpu()
        if tuple(model.input_shape) == (2,):
            return [density_figure(model, data.train.x, samples, folder / "density.png")]
        from dlzoo.plots import image_grid  # matplotlib: only when drawing

        return [image_grid(samples, folder / "samples.png", title="flow samples")]


def density_figure(model: Any, real: torch.Tensor, samples: torch.Tensor, path: Path, *, n: int = 200) -> Path:
    """Three panels on the data's box: the training data, the learned density exp(log p), samples."""
    import matplotlib.pyplot as plt

    lo, hi = data_box(real, margin=0.1)
    xs, ys, logp = grid_log_density(model, lo, hi, n)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    extent = (lo[0], hi[0], lo[1], hi[1])
    axes[0].scatter(real[:2000, 0], real[:2000, 1], s=1, c="tab:orange", alpha=0.4)
    axes[0].set_title("data")
    axes[1].imshow(logp.exp().numpy(), origin="lower", extent=extent, aspect="auto", cmap="viridis")
    axes[1].set_title("learned density p(x)")
    axes[2].scatter(samples[:, 0], samples[:, 1], s=1, c="black", alpha=0.4)
    axes[2].set_title(f"{len(samples)} samples")
    for ax in axes:
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
