"""Figures of the meta-learning family: adapted sinusoid curves (Finn et al. 2017, Fig. 2), an episode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dlzoo.protocols import Plots

CURVE_STEPS = (0, 1, 10)  # inner steps shown in the sinusoid figure


def sinusoid_curves(
    objective: Any, model: Any, episode: Any, path: Path, *, steps: tuple[int, ...] = CURVE_STEPS
) -> Path:
    """The true sine, the K support points and the model's prediction after 0, 1, 10 inner steps."""
    import matplotlib.pyplot as plt  # noqa: PLC0415  matplotlib only when drawing

    from dlzoo.plots import _save

    x = torch.linspace(-5, 5, 200)[:, None]  # (200, 1)
    a, p = episode.classes.tolist()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(x, a * torch.sin(x - p), color="black", lw=2, label="ground truth")
    for k in steps:
        adapted = objective.adapt(model, episode.support_x, episode.support_y, steps=k)
        with torch.no_grad():
            y = objective.predict(model, adapted, x)
        ax.plot(x, y, ls="--", label=f"after {k} step{'s' if k != 1 else ''}")
    ax.scatter(episode.support_x, episode.support_y, color="red", zorder=3, label=f"K={len(episode.support_x)} support")
    ax.set(xlabel="x", ylabel="y", title=f"adapted predictions (A={a:.2f}, phase={p:.2f})")
    ax.legend(fontsize=7)
    return _save(fig, path)


class MetaPlots(Plots):
    @staticmethod
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        """sinusoid: ``adapted_curves.png`` on the first fixed test task; images: one test episode's support set."""
        from dlzoo.data.fewshot import EVAL_SEEDS

        gen = torch.Generator().manual_seed(EVAL_SEEDS["test"] * 1_000_003)
        if data.info.task == "regress":
            episode = data.pools["test"].episode(gen, n_way=1, k_shot=objective.cfg.k_shot, n_query=1)
            model.eval()
            return [sinusoid_curves(objective, model, episode, folder / "adapted_curves.png")]
        if data.info.task == "classify":
            from dlzoo.plots import image_grid

            cfg = objective.cfg
            episode = data.pools["test"].episode(gen, n_way=min(cfg.n_way, 5), k_shot=1, n_query=1)
            return [image_grid(episode.support_x, folder / "episode.png", title="a test episode's support set")]
        return []
