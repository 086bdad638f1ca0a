"""Serving of the super-resolution models: ``/predict`` takes low-resolution images, returns high-resolution ones.

``POST /v1/models/{name}/predict {"inputs": [...]}``: a low-resolution image (C, h, w) or a batch, in
[0, 1]; the answer is the high-resolution image(s), clipped to [0, 1], with their shape.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.protocols import Pipeline
from dlzoo.validation import Tensor, as_batch


class ImageRequest(BaseModel):
    """POST /v1/models/{name}/predict body: low-resolution images in [0, 1]."""

    model_config = ConfigDict(extra="forbid")
    inputs: Tensor = Field(
        description="one low-resolution image (C, h, w) or a batch (B, C, h, w), values in "
        "[0, 1]; flattened images (B, C*h*w) are accepted too"
    )


class SuperResPipeline(Pipeline):
    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": ImageRequest}

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: ImageRequest) -> dict[str, Any]:
        """predict: (B, C, h, w) low-resolution images -> (B, C, f*h, f*w) in [0, 1]."""
        x = as_batch(loaded, body.inputs)  # shape (and, where recorded, range) checked: InputError
        out = loaded.model(x).clamp(0, 1)  # (B, C, H, W)
        return {"images": out.tolist(), "shape": list(out.shape)}
