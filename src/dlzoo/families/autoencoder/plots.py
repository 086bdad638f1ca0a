"""Figures of the autoencoders: samples and reconstructions (VAE); reconstructions with the corrupted
inputs and first-layer filters (deterministic autoencoders). Drawn with ``dlzoo.plots`` (matplotlib is
imported when a figure is drawn, not when the family registers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dlzoo.families.autoencoder.ae_objective import corrupt
from dlzoo.families.autoencoder.objective import EVAL_SEED as VAE_EVAL_SEED
from dlzoo.protocols import Plots


class VAEPlots(Plots):
    @staticmethod
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        """samples.png (64 draws from the prior) and reconstructions.png (test rows, reconstruction rows)."""
        from dlzoo.plots import image_grid

        model.eval()
        samples = objective.sample(model, 64, torch.Generator().manual_seed(VAE_EVAL_SEED)).cpu()
        m = min(32, len(data.test.x))
        width = min(8, m)
        m -= m % width  # whole rows only, so each reconstruction sits under its original
        x = objective.binarize_for_eval(data.test.x[:m].to(next(model.parameters()).device))
        recon = objective.reconstruct(model, x)
        rows = [t[r : r + width] for r in range(0, m, width) for t in (x, recon)]  # originals, reconstructions
        pairs = torch.cat(rows).flatten(1).cpu()  # (2m, numel)
        return [
            image_grid(_as_images(samples, model), folder / "samples.png", title="samples from the prior"),
            image_grid(
                _as_images(pairs, model),
                folder / "reconstructions.png",
                nrow=width,
                title="test images (odd rows) and reconstructions (even rows)",
            ),
        ]


class AutoencoderPlots(Plots):
    @staticmethod
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        """reconstructions.png (clean / [corrupted] / reconstruction rows) and, for MLPs, filters.png."""
        out = [
            reconstructions_plot(
                objective, model, data.test.x, folder / "reconstructions.png", noisy=objective.corrupts
            )
        ]
        path = filters_plot(model, folder / "filters.png")
        return out + ([path] if path else [])


def _as_images(x: torch.Tensor, model: Any) -> torch.Tensor:
    """(N, ...) -> (N, C, H, W) when the input shape is an image, else leave flat for image_grid."""
    shape = tuple(model.input_shape)
    return x.reshape(-1, *shape) if len(shape) == 3 else x.reshape(len(x), -1)


@torch.no_grad()
def reconstructions_plot(
    objective: Any, model: Any, x: torch.Tensor, path: Path, *, noisy: bool, width: int = 8, rows: int = 4
) -> Path:
    """Rows of test images, [their corruption at the evaluation noise,] and the reconstruction of the
    image above. The denoising AE reconstructs from the corruption (what it was trained to do)."""
    from dlzoo.families.autoencoder.ae_objective import EVAL_SEED
    from dlzoo.plots import image_grid

    m = min(width * rows, len(x))
    width = min(width, m)
    m -= m % width
    device = next(model.parameters()).device
    clean = x[:m].to(device)
    g = torch.Generator(device=device).manual_seed(EVAL_SEED)
    seen = (
        corrupt(clean, kind=objective.cfg.eval_noise, level=objective.cfg.eval_noise_level, generator=g)
        if noisy
        else clean
    )
    recon = objective.reconstruct(model, seen)
    groups = (clean, seen.clamp(0, 1), recon) if noisy else (clean, recon)
    grid = torch.cat([t[r : r + width] for r in range(0, m, width) for t in groups]).cpu()  # (len(groups) m, ...)
    shape = tuple(model.input_shape)
    images = grid.reshape(-1, *shape) if len(shape) == 3 else grid.reshape(len(grid), -1)
    title = (
        "test images / masked inputs / reconstructions"
        if noisy
        else "test images (odd rows) and reconstructions (even rows)"
    )
    return image_grid(images, path, nrow=width, title=title)


@torch.no_grad()
def filters_plot(model: Any, path: Path, *, n: int = 64) -> Path | None:
    """The first ``n`` rows of the first MLP layer, each reshaped to the input image and scaled to
    [0, 1] on its own (the classic filter pictures of Vincent et al. 2008); None for conv encoders."""
    first = getattr(getattr(model, "encoder", None), "first", None)
    shape = tuple(getattr(model, "input_shape", ()))
    if first is None or len(shape) != 3 or shape[0] != 1:
        return None
    from dlzoo.plots import image_grid

    w = first.weight[:n].detach().cpu()  # (n, H*W)
    lo, hi = w.min(1, keepdim=True).values, w.max(1, keepdim=True).values
    w = (w - lo) / (hi - lo).clamp_min(1e-12)
    return image_grid(w.reshape(-1, *shape), path, title=f"first-layer filters ({len(w)} units)")
