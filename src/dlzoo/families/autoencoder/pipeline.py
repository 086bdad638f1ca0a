"""Serving of the autoencoders: ``/sample`` and ``/reconstruct`` (VAE), ``/reconstruct`` and ``/embed``
(deterministic autoencoders: the codes h = f(x) of a batch)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from dlzoo.families.autoencoder.ae_objective import AutoencoderObjective, codes
from dlzoo.families.autoencoder.objective import VAEObjective
from dlzoo.protocols import Pipeline
from dlzoo.validation import Tensor, as_batch


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Tensor = Field(
        description="one example of shape input_shape, or a batch (B, *input_shape); flattened images are accepted too"
    )


class VAEPipeline(Pipeline):
    """Bernoulli means of samples from the prior, and of p(x | z = mu(x))."""

    verbs: ClassVar[tuple[str, ...]] = ("sample", "reconstruct")
    sample = staticmethod(VAEObjective.sample)
    reconstruct = staticmethod(VAEObjective.reconstruct)


class AutoencoderPipeline(Pipeline):
    """sigmoid(g(f(x))) for ``/reconstruct``; the codes f(x) for ``/embed``."""

    verbs: ClassVar[tuple[str, ...]] = ("reconstruct",)
    requests: ClassVar[dict[str, type[BaseModel]]] = {"embed": EmbedRequest}
    reconstruct = staticmethod(AutoencoderObjective.reconstruct)

    @staticmethod
    def serve(verb: str, loaded: Any, body: EmbedRequest) -> dict[str, Any]:
        """``embed``: the codes h = f(x) of a batch, (B, code_dim)."""
        h = codes(loaded.model, as_batch(loaded, body.inputs))
        return {"codes": h.tolist(), "shape": list(h.shape)}
