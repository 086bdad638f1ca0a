"""Figures of the energy family: RBM filters and Gibbs samples; Hopfield retrievals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dlzoo.protocols import Plots

PLOT_SEED = 0


def as_images(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor | None:
    """(N, D) rows -> (N, 1, H, W) images in [0, 1] (each row min-max scaled), or None when not images."""
    if len(shape) == 3:
        h, w = shape[1:]
    elif len(shape) == 1 and round(shape[0] ** 0.5) ** 2 == shape[0]:
        h = w = round(shape[0] ** 0.5)
    else:
        return None
    x = x.detach().cpu().float().reshape(len(x), -1)
    lo, hi = x.min(1, keepdim=True).values, x.max(1, keepdim=True).values
    return ((x - lo) / (hi - lo).clamp_min(1e-8)).reshape(len(x), 1, h, w)


def grid(x: torch.Tensor, shape: tuple[int, ...], path: Path, title: str, *, nrow: int = 10) -> list[Path]:
    images = as_images(x, shape)
    if images is None:
        return []
    from dlzoo.plots import image_grid  # matplotlib: only when drawing

    return [image_grid(images, path, title=title, nrow=nrow)]


class RBMPlots(Plots):
    """filters.png: the first 20 hidden units' weights W_j as images; samples.png: Gibbs samples."""

    @staticmethod
    @torch.no_grad()
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        model.eval()
        shape = tuple(model.input_shape)
        paths = grid(model.W[:20], shape, folder / "filters.png", "RBM filters W_j (first 20, each min-max scaled)")
        samples = objective.sample(model, 20, torch.Generator().manual_seed(PLOT_SEED), steps=1000)
        return paths + grid(samples.reshape(20, -1), shape, folder / "samples.png", "1000 Gibbs sweeps from noise")


class HopfieldPlots(Plots):
    """retrieval.png: stored patterns, their corrupted queries and what the network retrieved (8 of them)."""

    @staticmethod
    @torch.no_grad()
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        from dlzoo.families.energy.hopfield import spins
        from dlzoo.families.energy.hopfield_objective import flip, half_mask

        n = min(8, getattr(model, "n_memories", None) or objective.cfg.n_patterns)
        x = data.train.x[:n].flatten(1)  # (n, D) stored patterns
        if hasattr(model, "memories"):  # modern: half-masked queries, one update
            query, _ = half_mask(x)
            s, _ = model.run(spins(query), max_steps=objective.cfg.max_steps)
        else:
            g = torch.Generator().manual_seed(PLOT_SEED)
            query = (flip(spins(x), objective.cfg.corruption, g) + 1) / 2
            s, _ = model.run(spins(query), mode=objective.cfg.update, max_steps=objective.cfg.max_steps, generator=g)
        rows = torch.cat([x, query, (s + 1) / 2])  # (3n, D)
        title = "rows: stored, query, retrieved"
        return grid(rows, tuple(model.input_shape), folder / "retrieval.png", title, nrow=n)


class EBMPlots(Plots):
    """samples.png: Langevin samples from noise over the data (and the modes' 3-std circles on the 2-D toys);
    on images a grid of 40 samples from noise above 40 from the replay buffer."""

    @staticmethod
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        if tuple(model.input_shape) != (2,):
            if len(model.input_shape) != 3:
                return []
            g = torch.Generator().manual_seed(PLOT_SEED)
            x = objective.sample_with(model, 40, g, steps=objective.cfg.eval_steps)  # (40, C, H, W)
            if objective.buffer is not None:
                x = torch.cat([x, objective.buffer[torch.randperm(len(objective.buffer), generator=g)[:40]]])
            title = f"{objective.cfg.eval_steps} Langevin steps from noise; below: replay buffer"
            return grid(x, tuple(model.input_shape), folder / "samples.png", title)
        from dlzoo.data.toy2d import grid_modes, ring_modes
        from dlzoo.plots import points_2d

        make = {"ring": ring_modes, "grid": grid_modes}.get(data.info.name)
        g = torch.Generator().manual_seed(PLOT_SEED)
        samples = objective.sample_with(model, 1000, g, steps=objective.cfg.eval_steps)
        title = f"{objective.cfg.eval_steps} Langevin steps from uniform noise (black), data (orange)"
        real = data.train.x[:1000]
        return [points_2d(samples, folder / "samples.png", title=title, real=real, modes=make() if make else None)]
