"""Matplotlib (Agg) PNGs: learning curves for every run, and a few paradigm plots."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def learning_curves(rows: list[dict[str, Any]], path: Path, *, title: str) -> Path:
    """One panel per metric name, one line per split (train/val), against the step."""
    series: dict[str, dict[str, tuple[list, list]]] = defaultdict(dict)
    for row in rows:
        for key, value in row.items():
            if "/" not in key or not isinstance(value, (int, float)):
                continue
            split, metric = key.split("/", 1)
            xs, ys = series[metric].setdefault(split, ([], []))
            xs.append(row.get("step", len(xs)))
            ys.append(value)
    names = sorted(series) or ["(no metrics)"]
    cols = min(3, len(names))
    rows_n = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(4.5 * cols, 3.2 * rows_n), squeeze=False)
    for ax, metric in zip(axes.flat, names, strict=False):
        for split, (xs, ys) in sorted(series.get(metric, {}).items()):
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, ms=3, label=split)
        ax.set_title(metric)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if series.get(metric):
            ax.legend()
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def confusion_matrix_plot(y: torch.Tensor, pred: torch.Tensor, class_names: Sequence[str] | None, path: Path) -> Path:
    n = int(max(y.max(), pred.max())) + 1
    cm = torch.zeros(n, n, dtype=torch.int64)
    cm.index_put_((y.long(), pred.long()), torch.ones_like(y, dtype=torch.int64), accumulate=True)
    fig, ax = plt.subplots(figsize=(1 + 0.45 * n, 0.8 + 0.45 * n))
    ax.imshow(cm.numpy(), cmap="Blues")
    labels = list(class_names) if class_names else [str(i) for i in range(n)]
    ax.set_xticks(range(n), labels[:n], rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels[:n], fontsize=7)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    int(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if cm[i, j] > cm.max() / 2 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    return _save(fig, path)


def image_grid(images: torch.Tensor, path: Path, *, title: str, nrow: int = 8) -> Path:
    """(N, C, H, W) or (N, H*W) square images in [0, 1] as one grid."""
    x = images.detach().cpu().float()
    if x.ndim == 2:
        side = int(round(x.shape[1] ** 0.5))
        if side * side != x.shape[1]:
            raise ValueError(
                f"image_grid takes (N, C, H, W) images or flat square ones (N, H*W); got "
                f"{tuple(x.shape)}, which is not an image (save it as .npy instead)"
            )
        x = x.reshape(-1, 1, side, side)
    n, _, h, w = x.shape
    ncol = min(nrow, n)
    nr = (n + ncol - 1) // ncol
    grid = np.ones((nr * (h + 1), ncol * (w + 1)))
    for i in range(n):
        r, c = divmod(i, ncol)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = x[i, 0].clamp(0, 1).numpy()
    fig, ax = plt.subplots(figsize=(ncol * 0.7 + 0.4, nr * 0.7 + 0.6))
    ax.imshow(grid, cmap="gray_r" if x.mean() < 0.5 else "gray", vmin=0, vmax=1)
    ax.axis("off")
    ax.set_title(title)
    return _save(fig, path)


def points_2d(
    samples: torch.Tensor, path: Path, *, title: str, real: torch.Tensor | None = None, modes: Any = None
) -> Path:
    """(N, 2) points (black), optionally over real ones (light) and mixture centers with 3-std circles."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:orange", alpha=0.25, label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="black", alpha=0.4, label=f"{len(samples)} samples")
    if modes is not None:
        for cx, cy in modes.centers.tolist():
            ax.add_patch(plt.Circle((cx, cy), 3 * modes.std, fill=False, color="tab:red", lw=0.8))
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def samples_plot(samples: torch.Tensor, path: Path, *, title: str) -> Path:
    """What a person looks at: 2-D points as a scatter plot, images as a grid."""
    x = samples.detach().cpu().float()
    if x.ndim == 2 and x.shape[1] == 2:
        return points_2d(x, path, title=title)
    return image_grid(x, path, title=title)


def episode_returns_plot(returns: Sequence[float], path: Path, *, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    r = np.asarray(returns, dtype=float)
    ax.plot(r, lw=0.8, alpha=0.5, label="episode return")
    if len(r) >= 10:
        k = max(1, len(r) // 20)
        ax.plot(np.arange(k - 1, len(r)), np.convolve(r, np.ones(k) / k, mode="valid"), label=f"mean of {k}")
    ax.set_xlabel("training episode")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def accuracy_matrix_plot(R: torch.Tensor, path: Path, *, title: str) -> Path:
    """Heat map of a continual run's accuracy matrix R[i, j] (row: after task i, column: task j); NaN blank."""
    T = R.shape[0]
    fig, ax = plt.subplots(figsize=(1.5 + 0.6 * T, 1.2 + 0.6 * T))
    ax.imshow(np.ma.masked_invalid(R.numpy()), cmap="viridis", vmin=0.0, vmax=1.0)
    for i in range(T):
        for j in range(T):
            if torch.isfinite(R[i, j]):
                v = float(R[i, j])
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=8, color="w" if v < 0.6 else "k")
    ax.set_xticks(range(T), [str(j) for j in range(T)])
    ax.set_yticks(range(T), [str(i) for i in range(T)])
    ax.set_xlabel("evaluated on task j")
    ax.set_ylabel("after training task i")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def task_curves_plot(curves: torch.Tensor, path: Path, *, boundaries: Sequence[float], title: str) -> Path:
    """Accuracy on each task (one line per task) after every round, task boundaries dashed. curves: (rounds, T)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    rounds = np.arange(1, curves.shape[0] + 1)
    for j in range(curves.shape[1]):
        ax.plot(rounds, curves[:, j].numpy(), marker="o" if len(rounds) < 30 else None, ms=3, label=f"task {j}")
    for b in boundaries:
        ax.axvline(b + 1, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("round (epoch of the current task)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
