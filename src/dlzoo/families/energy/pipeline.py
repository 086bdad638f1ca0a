"""Serving of the energy family: ``/sample``, ``/reconstruct``, ``/energy`` (RBMs, the Langevin EBM) and
``/retrieve`` (Hopfield networks).

    POST /v1/models/rbm/sample       {"n": 16, "steps": 1000, "seed": 0}   Gibbs chains from noise
    POST /v1/models/rbm/reconstruct  {"inputs": [...]}                    mean-field E[v | p(h | v)]
    POST /v1/models/rbm/energy       {"inputs": [...]}                    free energies F(v), one per example
    POST /v1/models/hopfield/retrieve {"inputs": [...], "max_steps": 20}  the fixed point reached, steps taken

Chains are bounded (``MAX_CHAINS``, ``MAX_STEPS`` and their product ``MAX_CHAIN_STEPS``): a request past
them is a 422 that says so. A Bernoulli RBM's free energy and a Hopfield pattern need binary inputs
in {0, 1}; anything else is a 422 naming what was expected. Export captures forward: the free energy
(RBM, EBM), the energy (classical Hopfield) or one attention update (modern Hopfield).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dlzoo.families.energy.hopfield import spins
from dlzoo.families.energy.objective import RBMObjective
from dlzoo.protocols import Pipeline
from dlzoo.validation import InputError, Tensor, as_batch

MAX_CHAINS = 256  # samples per request
MAX_STEPS = 10_000  # Gibbs / Langevin steps per chain
MAX_CHAIN_STEPS = 200_000  # n x steps per request: about a second of a small RBM on one core


class SampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(16, ge=1, le=MAX_CHAINS, description="number of chains (samples)")
    steps: int = Field(1000, ge=1, le=MAX_STEPS, description="Gibbs sweeps (RBM) or Langevin steps (EBM) per chain")
    seed: int = Field(0, ge=0, description="seed of the chains' noise: the same seed, the same samples")

    @model_validator(mode="after")
    def _bounded(self) -> SampleRequest:
        if self.n * self.steps > MAX_CHAIN_STEPS:
            raise ValueError(
                f"n x steps = {self.n * self.steps} is over the limit of {MAX_CHAIN_STEPS} chain steps per request; "
                f"send fewer chains or shorter chains"
            )
        return self


class InputsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Tensor = Field(description="one example of shape input_shape, or a batch (B, *input_shape)")


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Tensor = Field(description="corrupted pattern(s) in {0, 1} of shape input_shape, or a batch of them")
    max_steps: int = Field(50, ge=1, le=1000, description="sweeps (classical) or attention updates (modern) at most")


def binary_batch(loaded: Any, data: Any) -> torch.Tensor:
    """as_batch, then every value must be 0 or 1 (the states of a binary unit)."""
    x = as_batch(loaded, data)
    bad = (x != 0) & (x != 1)
    if bool(bad.any()):
        raise InputError(
            f"{loaded.spec.name} has binary units: inputs must be 0 or 1, got {float(x[bad][0]):g} "
            f"({int(bad.sum())} non-binary values)"
        )
    return x


class RBMPipeline(Pipeline):
    """Gibbs samples, mean-field reconstructions and free energies of an RBM."""

    verbs: ClassVar[tuple[str, ...]] = ("sample", "reconstruct")
    requests: ClassVar[dict[str, type[BaseModel]]] = {"sample": SampleRequest, "energy": InputsRequest}
    sample = staticmethod(RBMObjective.sample)
    reconstruct = staticmethod(RBMObjective.reconstruct)

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: Any) -> dict[str, Any]:
        model = loaded.model
        if verb == "sample":
            g = torch.Generator().manual_seed(body.seed)
            x = RBMObjective.sample(model, body.n, g, steps=body.steps)
            return {"samples": x.tolist(), "shape": list(x.shape), "steps": body.steps}
        x = binary_batch(loaded, body.inputs) if model.visible == "bernoulli" else as_batch(loaded, body.inputs)
        return {"free_energy": model.free_energy(x).tolist()}


class HopfieldPipeline(Pipeline):
    """``/retrieve``: run the network from the posted (corrupted) patterns; ``/energy``: E of each pattern."""

    requests: ClassVar[dict[str, type[BaseModel]]] = {"retrieve": RetrieveRequest, "energy": InputsRequest}

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor]:
        """forward's input for ``dlzoo export``: binary patterns (n, *input_shape) in {0, 1}."""
        g = torch.Generator().manual_seed(n)
        return (torch.randint(0, 2, (n, *loaded.model.input_shape), generator=g).float(),)

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: Any) -> dict[str, Any]:
        model = loaded.model
        modern = hasattr(model, "memories")
        # classical units are binary; the modern network reads [0, 1] (0.5 = unknown pixel)
        x = as_batch(loaded, body.inputs) if modern else binary_batch(loaded, body.inputs)
        s = spins(x)  # (B, N)
        if verb == "energy":
            return {"energy": model.energy_of_spins(s).tolist()}
        if modern:
            final, steps = model.run(s, max_steps=body.max_steps)
            out = {"memory": (final @ model.memories.T).argmax(1).tolist()}
        else:
            final, steps = model.run(
                s,
                mode=loaded.config.task.get("update", "async"),
                max_steps=body.max_steps,
                generator=torch.Generator().manual_seed(0),
            )
            out = {}
        patterns = ((final + 1) / 2).reshape(len(x), *model.input_shape)
        return {
            "patterns": patterns.tolist(),
            "steps": steps.tolist(),
            "energy": model.energy_of_spins(final).tolist(),
            **out,
        }


class EBMPipeline(Pipeline):
    """Langevin samples from uniform noise (the run's step size and noise) and energies E(x)."""

    requests: ClassVar[dict[str, type[BaseModel]]] = {"sample": SampleRequest, "energy": InputsRequest}

    @staticmethod
    def serve(verb: str, loaded: Any, body: Any) -> dict[str, Any]:
        from dlzoo.families.energy.ebm_objective import LangevinObjective

        model = loaded.model
        if verb == "sample":
            objective = LangevinObjective(LangevinObjective.Config(**loaded.config.task))
            x = objective.sample_with(model, body.n, torch.Generator().manual_seed(body.seed), steps=body.steps)
            return {"samples": x.tolist(), "shape": list(x.shape), "steps": body.steps}
        with torch.no_grad():
            return {"energy": model(as_batch(loaded, body.inputs)).tolist()}
