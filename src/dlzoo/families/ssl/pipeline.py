"""Serving of the self-supervised encoders: ``/embed`` and ``/similar``.

- ``POST /v1/models/{name}/embed`` ``{"inputs": [...]}``: h = f(x) of each example, (B, K);
- ``POST /v1/models/{name}/similar`` ``{"inputs": [...], "k": 5}``: the k training examples whose
  embeddings are most cosine-similar to each posted input's: their indices in the run's train split,
  the similarities and their labels. The train split is reloaded from the run's ``data:`` section
  (the same ``DLZOO_DATA`` as training) and embedded once per served run.

Wrong shapes, NaN or infinity, values outside the training range and batches over the limit are
``InputError``s (4xx), from ``dlzoo.validation.as_batch``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.protocols import Pipeline
from dlzoo.validation import InputError, Tensor, as_batch

MAX_SIMILAR_INPUTS = 256  # /similar compares each input with the whole train split
MAX_K = 100
EMBED_BATCH = 1000


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Tensor = Field(description="one example of shape input_shape, or a batch (B, *input_shape)")


class SimilarRequest(EmbedRequest):
    k: int = Field(5, ge=1, le=MAX_K, description="nearest training examples returned per input")


_INDEX: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}  # run path -> (unit train embeddings, labels)


@torch.no_grad()
def embed(model: Any, x: torch.Tensor) -> torch.Tensor:
    """h = f(x) in batches, (N, K), eval mode, on the CPU."""
    model.eval()
    return torch.cat([model.embed(x[i : i + EMBED_BATCH]).float() for i in range(0, len(x), EMBED_BATCH)])


def train_index(loaded: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The run's train split embedded and L2-normalized (N, K), and its labels; cached per run."""
    key = str(loaded.run.path)
    if key not in _INDEX:
        from dlzoo.data import DataError, load_dataset

        try:
            data = load_dataset(loaded.config.data["name"], **loaded.config.data_args())
        except DataError as e:
            raise InputError(f"cannot reload the training data of this run for /similar: {e}") from None
        _INDEX[key] = (F.normalize(embed(loaded.model, data.train.x), dim=1), data.train.y)
    return _INDEX[key]


class SSLPipeline(Pipeline):
    """``embed``: the representation; ``similar``: nearest training examples by cosine similarity."""

    requests: ClassVar[dict[str, type[BaseModel]]] = {"embed": EmbedRequest, "similar": SimilarRequest}

    @staticmethod
    def serve(verb: str, loaded: Any, body: Any) -> dict[str, Any]:
        x = as_batch(loaded, body.inputs)  # (B, *input_shape), shape / finiteness / range checked
        if verb == "embed":
            h = embed(loaded.model, x)
            return {"embeddings": h.tolist(), "shape": list(h.shape)}
        if len(x) > MAX_SIMILAR_INPUTS:
            raise InputError(f"/similar takes at most {MAX_SIMILAR_INPUTS} inputs per request, got {len(x)}")
        index, labels = train_index(loaded)
        sim = F.normalize(embed(loaded.model, x), dim=1) @ index.T  # (B, N) cosine similarities
        top, idx = sim.topk(min(body.k, len(index)), dim=1)  # (B, k)
        out: dict[str, Any] = {"indices": idx.tolist(), "similarities": top.tolist()}
        if labels is not None:
            out["labels"] = labels[idx].tolist()
        return out
