"""Serving and export of the flows: ``/log_prob`` (one log-likelihood per posted point or image) and
``/sample`` (count, temperature, seed).

    POST /v1/models/{name}/log_prob {"inputs": [[0.5, 0.2], [1.0, -0.3]]}
      -> {"log_prob": [-1.02, -0.87], "units": "nats", "shape": [2]}
    POST /v1/models/{name}/sample {"n": 16, "temperature": 0.8, "seed": 0}
      -> {"samples": [...], "shape": [16, 2]}

Inputs go through ``dlzoo.validation.as_batch``: a wrong shape, NaN/infinity, more than MAX_BATCH
examples, or pixels outside the training data's range (images: [0, 1]) are a 422 that says what was
expected. ``dlzoo export`` captures forward, the log-density path.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.protocols import Pipeline
from dlzoo.validation import MAX_SAMPLES, Tensor, as_batch, input_shape


class LogProbRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Tensor = Field(description="one example of shape input_shape, or a batch (B, *input_shape)")


class FlowSampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(16, ge=1, le=MAX_SAMPLES, description="number of samples")
    temperature: float = Field(
        1.0, gt=0, le=2.0, allow_inf_nan=False, description="std T of the base draws z ~ N(0, T^2 I)"
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="the same seed gives the same samples")


class FlowPipeline(Pipeline):
    """Log-densities and samples of every flow of the family."""

    requests: ClassVar[dict[str, type[BaseModel]]] = {"log_prob": LogProbRequest, "sample": FlowSampleRequest}

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: Any) -> dict[str, Any]:
        model = loaded.model.eval()
        if verb == "sample":
            g = torch.Generator().manual_seed(body.seed)
            x = model.sample(body.n, g, temperature=body.temperature)
            return {"samples": x.tolist(), "shape": list(x.shape)}
        x = as_batch(loaded, body.inputs)  # (B, *input_shape), shape / NaN / range / size checked
        log_p = model(x)
        return {"log_prob": log_p.tolist(), "units": "nats", "shape": list(log_p.shape)}

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor]:
        """forward's input: Gaussian points (vectors) or uniform pixels in [0, 1] (images), (n, *input_shape)."""
        shape = input_shape(loaded)
        g = torch.Generator().manual_seed(n)
        if len(shape) == 3:
            return (torch.rand((n, *shape), generator=g),)
        return (torch.randn((n, *shape), generator=g),)
