"""Figures of the ssl family: the two views of a few training images, and each of a few test images
beside its nearest training images in the learned representation (cosine similarity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dlzoo.protocols import Plots

ROWS, NEIGHBOURS, REFERENCE = 6, 7, 5000


class SSLPlots(Plots):
    """``views.png`` (images: rows of originals, view a, view b) and ``neighbours.png`` (images)."""

    @staticmethod
    @torch.no_grad()
    def draw(objective: Any, model: Any, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        if data.train.x.dim() != 4 or data.test is None:
            return []  # tables and series: no picture
        from dlzoo.plots import image_grid  # matplotlib: only when drawing

        x = data.train.x[:8]
        a, b = objective.views(x, torch.Generator().manual_seed(0))
        out = [image_grid(torch.cat([x, a, b]), folder / "views.png", title="rows: images, view a, view b")]
        model.eval()
        device = next(model.parameters()).device
        ref = data.train.x[:REFERENCE]
        h_ref = F.normalize(
            torch.cat([model.embed(ref[i : i + 1000].to(device)).cpu() for i in range(0, len(ref), 1000)]), dim=1
        )
        query = data.test.x[:ROWS]
        nearest = (
            (F.normalize(model.embed(query.to(device)).cpu(), dim=1) @ h_ref.T).topk(NEIGHBOURS, dim=1).indices
        )  # (R, k)
        rows = torch.cat([torch.cat([query[r : r + 1], ref[nearest[r]]]) for r in range(len(query))])
        title = f"a test image, its {NEIGHBOURS} nearest train images"
        out.append(image_grid(rows, folder / "neighbours.png", title=title, nrow=NEIGHBOURS + 1))
        return out
