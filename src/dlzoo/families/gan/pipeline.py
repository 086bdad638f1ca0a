"""Serving and export of the GANs: ``/sample`` draws x = G(z); forward's input is z.

``POST /v1/models/{name}/sample {"n": 16, "seed": 0}`` returns n samples of the model's input shape
(the same seed, the same samples). ``dlzoo export`` captures forward (the generator and its critic
score) on z of shape (batch, latent_dim).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from dlzoo.families.gan.objective import GANObjective
from dlzoo.protocols import Pipeline


class GANPipeline(Pipeline):
    """Every GAN of the family (the losses differ, sampling does not)."""

    verbs: ClassVar[tuple[str, ...]] = ("sample",)
    sample = staticmethod(GANObjective.sample)

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor]:
        """forward's input for ``dlzoo export``: z (n, latent_dim)."""
        return (torch.randn(n, int(loaded.model.latent_dim), generator=torch.Generator().manual_seed(0)),)
