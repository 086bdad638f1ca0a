"""The paradigm protocol: what the loop in ``training/loop.py`` asks of every paradigm.

The loop owns time (rounds), logging, evaluation cadence, checkpoints, plots and the run directory.
A paradigm owns where batches come from and what one step is. It never sees the run directory; the
model never sees either. See ``tasks/README.md`` for how each paradigm of DESIGN.md plugs in.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from collections.abc import Iterator

import torch
from torch import nn

from dlzoo.config import RunConfig, TrainConfig
from dlzoo.optim import make_optimizer, make_scheduler
from dlzoo.protocols import Logs
from dlzoo.registry import ModelSpec, create_model

if TYPE_CHECKING:  # Fabric costs seconds to import; only a starting run needs it
    from lightning_fabric import Fabric

__all__ = ["Context", "Logs", "Optimization", "Task", "TensorBatches", "build_model", "load_data"]


class Task(Protocol):
    """One paradigm bound to one run."""

    model: nn.Module  # the unwrapped module: what is saved to model.safetensors

    def setup(self) -> None:
        """Load data (or make environments), build the model, fill ``cfg.model``/``cfg.info``."""

    def num_rounds(self) -> int:
        """How many rounds the run has: epochs, or evaluation periods of environment steps."""

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        """Run one round; yield the logs of every optimizer step (``train/<metric>`` names)."""

    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        """Metrics on ``split`` ("val" or "test"), keyed ``<split>/<metric>``; ``final`` may cost more."""

    def state_dict(self) -> dict[str, Any]:
        """Everything besides model weights needed to resume at a round boundary (tensors only)."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def plots(self, folder: Path) -> list[Path]:
        """Family/paradigm plots beside the learning curves; returns the files written."""

    def example_inputs(self, n: int) -> tuple[torch.Tensor, ...]:
        """forward's positional inputs for n examples of the run's data (n rows of each output).

        What the registry-wide contract tests feed every model, and export's parity batches."""

    #: per input of forward, {dim: name} of the dims that vary between calls (None: dim 0, "batch")
    dynamic_dims: tuple[dict[int, str], ...] | None


@dataclass
class Context:
    """What a paradigm gets from the loop."""

    spec: ModelSpec
    cfg: RunConfig
    fabric: Fabric

    @property
    def train(self) -> TrainConfig:
        return self.cfg.train


def build_model(ctx: Context, derived: dict[str, Any]) -> nn.Module:
    """Build the model, filling data-derived arguments the builder accepts and the user left unset.

    ``derived`` holds facts from the data: in_features, input_shape, in_channels, num_classes,
    out_features, obs_dim, n_actions... Only names in the builder's signature are used, and the
    filled values go into ``cfg.model`` so config.yaml is fully resolved.
    """
    params = ctx.spec.params()
    for key, value in derived.items():
        if key in params and key not in ctx.cfg.model:
            ctx.cfg.model[key] = list(value) if isinstance(value, tuple) else value
    for key, default in params.items():  # record defaults too: the run must not change if they do
        if key not in ctx.cfg.model and default is not inspect_empty():
            ctx.cfg.model[key] = list(default) if isinstance(default, tuple) else default
    return create_model(ctx.spec.name, **ctx.cfg.model_args())


def load_data(ctx: Context) -> Any:
    """Load the ``data:`` section's dataset and record its defaults, so config.yaml is fully resolved."""
    from dlzoo.data import dataset_params, load_dataset

    name = ctx.cfg.data["name"]
    ctx.cfg.data = {"name": name, **dataset_params(name), **ctx.cfg.data_args()}
    return load_dataset(name, **ctx.cfg.data_args())


def inspect_empty() -> Any:
    import inspect

    return inspect.Parameter.empty


class Optimization:
    """One optimizer (+ optional per-epoch scheduler) over a Fabric-wrapped model: one step, its state.

    ``fmodel`` is the wrapped model to call in training (DDP synchronizes gradients through it).
    """

    def __init__(self, fabric: Fabric, model: nn.Module, cfg: TrainConfig) -> None:
        self.fabric, self.clip = fabric, cfg.grad_clip
        self.fmodel, self.optimizer = fabric.setup(model, make_optimizer(model.parameters(), cfg))
        self.scheduler = make_scheduler(self.optimizer, cfg)
        self.plateau = cfg.scheduler == "plateau"
        self.loss_sum, self.loss_steps = torch.zeros(()), 0  # the epoch's training loss, for 'plateau'

    def step(self, loss: torch.Tensor) -> None:
        """theta <- update(theta, grad loss), with the global gradient norm clipped to ``train.grad_clip``."""
        if self.plateau:
            self.loss_sum = self.loss_sum.to(loss.device) + loss.detach().float()
            self.loss_steps += 1
        self.optimizer.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        if self.clip is not None:
            self.fabric.clip_gradients(self.fmodel, self.optimizer, max_norm=self.clip)
        self.optimizer.step()

    def end_epoch(self) -> None:
        if self.plateau:  # ReduceLROnPlateau watches the epoch's mean training loss (all processes' mean)
            mean = self.loss_sum / max(1, self.loss_steps)
            if self.fabric.world_size > 1:
                mean = self.fabric.all_reduce(mean, reduce_op="mean")
            self.scheduler.step(float(mean))
            self.loss_sum, self.loss_steps = torch.zeros(()), 0
        elif self.scheduler is not None:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        state = {"optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])


class TensorBatches:
    """Mini-batches of in-memory tensors, sharded over processes like ``DistributedSampler``.

    Epoch ``e`` uses ``torch.randperm(n, generator=seed + e)``: the order depends only on (seed,
    epoch), so resuming at an epoch boundary replays the same batches, and with W processes rank r
    takes ``perm[r::W]``, so a DDP run sees the same global batches as one process. Indexing whole
    batches at once avoids the per-sample collate of a DataLoader (the overhead benchmark).
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        shuffle: bool = True,
        device: torch.device | str = "cpu",
    ) -> None:
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} must be divisible by the {world} processes")
        self.tensors, self.seed, self.rank, self.world, self.shuffle = tensors, seed, rank, world, shuffle
        self.local_batch = batch_size // world
        self.device = torch.device(device)
        self.n = len(tensors[0])

    def __len__(self) -> int:
        return math.ceil(math.ceil(self.n / self.world) / self.local_batch)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        total = math.ceil(self.n / self.world) * self.world
        if total > self.n:  # pad by wrapping around, as DistributedSampler does
            order = torch.cat([order, order[: total - self.n]])
        mine = order[self.rank :: self.world]
        for start in range(0, len(mine), self.local_batch):
            idx = mine[start : start + self.local_batch]
            yield tuple(t[idx].to(self.device, non_blocking=True) for t in self.tensors)


@contextmanager
def gradients_inside_the_loss() -> Iterator[None]:
    """Allow ``torch.autograd.grad`` on a Fabric-wrapped model's outputs while a loss is computed.

    Under a mixed-precision plugin (``train.precision=bf16-mixed``) Fabric hooks every output of a
    wrapped module so that a backward pass outside ``fabric.backward`` raises. A gradient that is part
    of the loss itself (the contractive autoencoder's Jacobian penalty, WGAN-GP's gradient penalty) is
    such a pass; it is legitimate, and only there is the guard lifted (the loss's own backward still
    goes through ``fabric.backward``). The flag is Fabric's (lightning_fabric.wrappers), pinned with it.
    """
    from lightning_fabric import wrappers

    before = wrappers._in_fabric_backward
    wrappers._in_fabric_backward = True
    try:
        yield
    finally:
        wrappers._in_fabric_backward = before
