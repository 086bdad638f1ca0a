"""Storing patterns in Hopfield networks and measuring their retrieval.

"Training" a Hopfield network is storing patterns in closed form: one round, one ``fit`` call that
stores the first ``n_patterns`` training examples (classical: Hebbian or pseudo-inverse couplings;
modern: the memories X are the patterns themselves). Evaluation is retrieval of the stored patterns
from corrupted copies (the test split's images were never stored, so they are not the queries):

    classical: flip a fraction ``corruption`` of the bits of each stored pattern, run the network
               (async or sync) to a fixed point; ``retrieval_accuracy`` = the fraction of patterns
               recovered exactly, ``overlap`` = mean m = xi . s / N (1 = perfect, ~0 = unrelated)
    modern:    hide half of each stored pattern (the lower half of an image, set to the unknown 0.5),
               one update; ``retrieval_accuracy`` = the fraction whose strongest memory
               argmax softmax(beta X xi) is the pattern itself, ``pixel_error`` = mean |x_new - x| of
               the hidden half

The corruptions are drawn from a generator seeded by the split (val 1, test 2): reproducible numbers.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.families.energy.hopfield import spins
from dlzoo.protocols import GenerativeObjective

SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}


def flip(s: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Flip round(fraction N) randomly chosen units of each row of s (B, N) in {-1, +1}."""
    n_flip = round(fraction * s.shape[1])
    order = torch.rand(s.shape, generator=generator).argsort(1)[:, :n_flip]  # (B, n_flip) distinct units
    out = s.clone()
    out.scatter_(1, order, -s.gather(1, order))
    return out


def half_mask(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide the second half of each example (the lower half of an image): queries with 0.5 there, and
    the hidden mask (B, D) bool."""
    flat = x.flatten(1).clone()  # (B, D)
    hidden = torch.zeros_like(flat, dtype=torch.bool)
    hidden[:, flat.shape[1] // 2 :] = True
    flat[hidden] = 0.5
    return flat, hidden


class HopfieldObjective(GenerativeObjective):
    """Classical network: store, then retrieve from flipped bits."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        rule: Literal["hebbian", "pseudoinverse"] = Field("hebbian", description="storage rule for the couplings W")
        n_patterns: int = Field(10, ge=1, description="store the first n_patterns training examples")
        update: Literal["async", "sync"] = Field("async", description="unit updates at retrieval")
        max_steps: int = Field(50, ge=1, le=1000, description="sweeps at most per retrieval")
        corruption: float = Field(0.1, ge=0, le=0.5, description="fraction of bits flipped in the queries")

    closed_form = True  # storing is the training: one fit call

    def __init__(self, cfg: HopfieldObjective.Config) -> None:
        self.cfg = cfg

    def patterns(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) < self.cfg.n_patterns:
            raise ValueError(f"task.n_patterns={self.cfg.n_patterns} but the train split has only {len(x)} examples")
        return x[: self.cfg.n_patterns]

    def fit(self, model: Any, x: torch.Tensor) -> dict[str, float]:
        """Store the patterns; logs the fraction of them that are fixed points of one sync update."""
        p = self.patterns(x)
        model.store(p, rule=self.cfg.rule)
        s = spins(p)
        stable = (torch.where(s @ model.W.T - model.theta >= 0, 1.0, -1.0) == s).all(1).float().mean()
        return {"stored": float(len(p)), "fixed_points": float(stable)}

    def loss(self, model: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError("a Hopfield network is fitted in closed form (fit), not by a loss")

    @torch.no_grad()
    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> dict[str, torch.Tensor]:
        """The energy of each example of the split (B,) (the retrieval metrics are split metrics)."""
        return {"energy": model(x)}

    @torch.no_grad()
    def split_metrics(self, model: Any, data: Any, split: str, *, final: bool = False) -> dict[str, float]:
        g = torch.Generator().manual_seed(SPLIT_SEEDS.get(split, 3))
        xi = spins(self.patterns(data.train.x)).cpu()  # (P, N) the stored patterns
        s, steps = model.run(
            flip(xi, self.cfg.corruption, g), mode=self.cfg.update, max_steps=self.cfg.max_steps, generator=g
        )
        return {
            "retrieval_accuracy": float((s == xi).all(1).float().mean()),
            "overlap": float((s * xi).mean()),
            "mean_steps": float(steps.float().mean()),
        }


class ModernHopfieldObjective(GenerativeObjective):
    """Modern network: memories = the patterns; retrieve each from its half-masked copy."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        max_steps: int = Field(1, ge=1, le=100, description="updates per retrieval (one suffices when separated)")

    closed_form = True

    def __init__(self, cfg: ModernHopfieldObjective.Config) -> None:
        self.cfg = cfg

    def fit(self, model: Any, x: torch.Tensor) -> dict[str, float]:
        model.store(x)
        return {"stored": float(model.n_memories)}

    def loss(self, model: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError("a Hopfield network is fitted in closed form (fit), not by a loss")

    @torch.no_grad()
    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> dict[str, torch.Tensor]:
        """The energy E(xi) of each example of the split (B,)."""
        return {"energy": model.energy_of_spins(spins(x))}

    @torch.no_grad()
    def split_metrics(self, model: Any, data: Any, split: str, *, final: bool = False) -> dict[str, float]:
        x = data.train.x[: model.n_memories].flatten(1)  # (P, d) the stored patterns
        return retrieval_metrics(model, x, max_steps=self.cfg.max_steps)


def retrieval_metrics(model: Any, x: torch.Tensor, *, max_steps: int = 1, batch: int = 500) -> dict[str, float]:
    """Half-masked retrieval of patterns x (P, d) stored as the model's memories (in that order)."""
    hits, err, hidden_total = 0, 0.0, 0
    for start in range(0, len(x), batch):
        part = x[start : start + batch]
        query, hidden = half_mask(part)
        s, _ = model.run(spins(query), max_steps=max_steps)  # (b, d)
        best = (s @ model.memories.T).argmax(1)  # (b,) the memory the state is closest to
        hits += int((best == torch.arange(start, start + len(part))).sum())
        err += float(((s + 1) / 2 - part).abs()[hidden].sum())
        hidden_total += int(hidden.sum())
    return {"retrieval_accuracy": hits / len(x), "pixel_error": err / hidden_total}
