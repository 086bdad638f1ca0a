"""The family-facing protocols, declared once: what a family hands the registry next to its model.

A family registers three things beside the entrypoint (``register_model(objective=, pipeline=, plots=)``):

- an **objective** (``objective.py``): a ``Config`` schema for the run's ``task:`` section and the
  paradigm's math (losses, samplers, algorithm steps). Each paradigm asks for its own members,
  listed by the protocols below (``SupervisedObjective`` ... ``ReinforcementObjective``);
- a **pipeline** (``pipeline.py``): inference and serving glue, as diffusers keeps pipelines apart
  from models and schedulers: the tensor verbs it serves (sample / reconstruct / act), request
  schemas of its own verbs and their answers (``requests`` + ``serve``), export inputs and their
  dynamic dims;
- **plots** (``plots.py``): the family's figures, written beside the learning curves.

Optional members are declared here with explicit defaults, so a consumer calls them directly; a
family subclasses the protocol it implements (``class ForecastObjective(SupervisedObjective)``) to
inherit the defaults. ``register_model`` checks every piece when the family is imported and fails
with one line naming what is missing.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
from pydantic import BaseModel
from torch import nn

if TYPE_CHECKING:  # Fabric costs seconds to import; only a starting run needs it
    from lightning_fabric import Fabric

    from dlzoo.config import TrainConfig
    from dlzoo.runs import LoadedRun

#: one optimizer (or environment) step's logs: 0-dim tensors or floats named ``train/<metric>``
Logs = dict[str, float | torch.Tensor]
#: per-example losses/metrics ``name -> (B,)``, or a batch's diagnostics ``name -> ()``
Metrics = dict[str, torch.Tensor]
Losses = tuple[torch.Tensor, Metrics]
#: the positional arguments of forward, and per input {dim: name} of the dims that vary (export)
Inputs = tuple[torch.Tensor, ...]
Dynamic = tuple[dict[int, str], ...]

#: verbs whose body is a tensor (``{"inputs": ...}``, or ``{"n", "seed"}`` for sample), served by the pipeline
TENSOR_VERBS = ("sample", "reconstruct", "act")


class ProtocolError(TypeError):
    """A family piece that does not implement its protocol; the message names the missing members."""


# -- training objectives, one protocol per paradigm ---------------------------------------------


class Objective(Protocol):
    """Every objective: the schema of the ``task:`` section, built as ``Objective(Objective.Config(**task))``."""

    Config: ClassVar[type[BaseModel]]


class SupervisedObjective(Objective, Protocol):
    """(x, y) batches: ``loss(model(x), y)``; ``metrics`` adds ``<split>/<name>`` at evaluation."""

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...

    def metrics(self, out: torch.Tensor, y: torch.Tensor, train_y: torch.Tensor) -> dict[str, float]:
        """Metrics of a whole split from all its outputs (forecasting's MASE); default none."""
        return {}


class GenerativeObjective(Objective, Protocol):
    """x-only batches: a likelihood or reconstruction loss, per-example evaluation."""

    def loss(self, model: Any, x: torch.Tensor) -> Losses: ...

    def evaluate(self, model: Any, x: torch.Tensor, *, final: bool = False) -> Metrics:
        """Per-example metrics (B,) each; ``final`` may use expensive estimators."""
        ...

    def split_metrics(self, model: Any, data: Any, split: str, *, final: bool = False) -> dict[str, float]:
        """Metrics of a whole split that are not means of per-example values (a pooled PSNR, a probe)."""
        return {}

    # True: the task passes the labels too, ``loss(model, x, y)``, when the data has them (class conditioning)
    uses_labels = False

    # True for a model fitted in closed form (Hopfield storage): a round is one ``fit`` call, no optimizer
    closed_form = False

    def fit(self, model: Any, x: torch.Tensor) -> Logs:
        """Fit the model in closed form on the whole train split (only when ``closed_form``)."""
        raise NotImplementedError(f"{type(self).__name__} is trained by its loss, not fitted in closed form")

    def state_dict(self) -> dict[str, Any]:
        """Tensors the objective carries between steps (persistent chains, a replay buffer); default none."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` when a run resumes."""


class RepresentationObjective(Objective, Protocol):
    """Self-supervised pre-training on unlabelled x: two augmented views of every example.

    ``views(x, generator)`` draws both views (every random choice from ``generator``, kept in the task
    state: exact resume); ``loss(model, view_a, view_b)`` is the method's loss (NT-Xent, BYOL's,
    Barlow Twins', ...), computed through ``model(...)``; ``after_step(model)`` runs after each
    optimizer step (BYOL's EMA target); ``embed(model, x)`` is the representation that evaluation
    probes and ``/embed`` serves. ``state_dict`` carries tensors between steps (an EMA target).
    """

    def prepare(self, model: nn.Module, train_x: torch.Tensor) -> None:
        """Before training, with the whole train split (SCARF's empirical marginals); default nothing."""

    def views(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]: ...

    def loss(self, model: Any, view_a: torch.Tensor, view_b: torch.Tensor) -> Losses: ...

    def after_step(self, model: nn.Module) -> None:
        """Runs after each optimizer step (BYOL's target: xi <- tau xi + (1 - tau) theta); default nothing."""

    @staticmethod
    def embed(model: Any, x: torch.Tensor) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, Any]:
        """Tensors carried between steps (an EMA target network); default none."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` when a run resumes."""


class AdversarialObjective(Objective, Protocol):
    """A generator and a critic; the config has lr_g, lr_d, betas_g, betas_d, n_critic, eval sizes."""

    def critic_loss(
        self, generator: Any, critic: Any, x: torch.Tensor, z: torch.Tensor, generator_noise: torch.Generator | None
    ) -> Losses: ...

    def generator_loss(self, generator: Any, critic: Any, z: torch.Tensor) -> Losses: ...

    @staticmethod
    def sample(model: Any, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...


class LanguageObjective(Objective, Protocol):
    """Next-token prediction; ``Config`` extends ``dlzoo.paradigms.LanguageConfig``."""

    def loss(self, model: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


class Seq2SeqObjective(Objective, Protocol):
    """(source, target) pairs, teacher forcing; evaluation by decoding."""

    @staticmethod
    def tokenizer(alphabet: str) -> Any: ...

    def loss(self, model: nn.Module, src: torch.Tensor, tgt: torch.Tensor, *, pad_id: int) -> Losses: ...

    def generate(
        self, model: nn.Module, src: torch.Tensor, *, tokenizer: Any, max_new_tokens: int, final: bool = False
    ) -> torch.Tensor: ...


class GraphObjective(Objective, Protocol):
    """Node, graph or link level (``level``) on graphs (the best val epoch: the loop's ``train.keep_best``)."""

    level: ClassVar[str]  # "node" | "graph" | "link"

    def loss(self, *args: torch.Tensor) -> torch.Tensor: ...


class ReinforcementObjective(Objective, Protocol):
    """An RL algorithm; ``Config`` extends ``dlzoo.paradigms.RLConfig``. Built with the model and env."""

    def __init__(self, cfg: Any, model: nn.Module, fabric: Fabric, train_cfg: TrainConfig, env: Any) -> None: ...

    def explore(self, obs: Any, step: int, generator: torch.Generator) -> Any: ...

    def update(self, buffer: Any, step: int, generator: torch.Generator) -> Logs: ...

    @staticmethod
    def act(model: nn.Module, obs: torch.Tensor) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class OnPolicyObjective(Objective, Protocol):
    """A policy-gradient algorithm on rollouts of a vector environment (``dlzoo.data.rollout.RolloutBuffer``);
    ``Config`` extends ``dlzoo.paradigms.OnPolicyConfig``. Built with the model and the vector env."""

    def __init__(self, cfg: Any, model: nn.Module, fabric: Fabric, train_cfg: TrainConfig, env: Any) -> None: ...

    def explore(self, obs: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sampled actions, their log-probabilities and V(s) of a batch of observations (N, *obs_shape)."""
        ...

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s), (N,): the bootstrap of a rollout's cut and of time-limit truncations."""
        ...

    def update(self, rollout: Any, last_value: torch.Tensor, step: int) -> Logs:
        """Learn from a full rollout; ``step``: environment steps so far (for the annealing schedules)."""
        ...

    @staticmethod
    def act(model: nn.Module, obs: torch.Tensor) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EpisodicObjective(Objective, Protocol):
    """N-way K-shot episodes (``dlzoo.data.fewshot.Episode``); ``Config`` extends ``dlzoo.paradigms.EpisodicConfig``.

    Integer support labels mean classification (cross-entropy), float ones regression (MSE).
    """

    def meta_loss(self, model: nn.Module, episodes: list[Any]) -> Losses:
        """A scalar whose gradient is the meta-gradient of a meta-batch, and its logs
        (``query_loss``, ``query_accuracy`` for classification), averaged over the episodes."""
        ...

    def adapt(
        self, model: nn.Module, support_x: torch.Tensor, support_y: torch.Tensor, *, steps: int | None = None
    ) -> Any:
        """Whatever the queries need from the support set (fast weights, prototypes); never changes ``model``.
        ``steps``: inner-loop steps (None: the config's evaluation default; ignored by metric methods)."""
        ...

    def predict(self, model: nn.Module, adapted: Any, query_x: torch.Tensor) -> torch.Tensor:
        """Query outputs after adaptation: logits (Q, N) or predictions (Q, 1)."""
        ...


class ContinualObjective(Objective, Protocol):
    """A continual-learning strategy on a task stream (``dlzoo.data.streams``); ``Config`` extends
    ``dlzoo.paradigms.ContinualConfig``. ``batch`` has ``x``, ``y`` (targets: output units) and ``task``
    (B,) task ids; ``heads.mask(task)`` the (B, O) active output units at this point of the stream.

    One step: ``loss`` -> backward -> ``before_update`` (may edit the gradients: A-GEM's projection)
    -> optimizer step -> ``after_update`` (SI's path integral, a reservoir's insertion). At each task
    boundary ``finish_task`` may still change the model (GDumb, PackNet); after the accuracy row is
    measured, ``consolidate`` sees the finished task's data (EWC's Fisher, LwF's frozen copy).
    ``state_dict`` goes into every checkpoint (tensors only).
    """

    def loss(self, model: nn.Module, batch: Any, heads: Any) -> Losses:
        """(scalar loss, logs) of one batch of the current task."""
        ...

    #: True: the task's batches are drawn from every task seen so far (joint training, the upper bound)
    joint: ClassVar[bool] = False

    def prepare(self, stream: Any) -> None:
        """Check the strategy against the stream before training (a replay budget larger than the data)."""

    def before_update(self, model: nn.Module, batch: Any, heads: Any) -> Logs:
        """Runs between backward and the optimizer step (gradients in ``p.grad``); default nothing."""
        return {}

    def after_update(self, model: nn.Module, batch: Any) -> None:
        """Runs after the optimizer step; default nothing."""

    def finish_task(self, model: nn.Module, task_data: Any, heads: Any) -> None:
        """End of a task's last epoch, before its row of R is measured (every task, the last included):
        may still change the model (GDumb retrains on its memory, PackNet prunes and freezes, iCaRL's
        class means); ``task_data`` is the task's whole training set. Default nothing."""

    def consolidate(self, model: nn.Module, task_data: Any, heads: Any) -> None:
        """End of a task: ``task_data`` is its whole training set as a batch; default nothing."""

    def state_dict(self) -> dict[str, Any]:
        """Tensors carried across steps and tasks (Fisher, anchors, a buffer, generator states)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` when a run resumes."""


# -- inference pipeline -------------------------------------------------------------------------


class Pipeline(Protocol):
    """Inference and serving glue of a family; this class itself is the pipeline of plain tensor models.

    The server and ``dlzoo predict/sample`` serve ``predict`` for classify/regress models, plus:
    ``verbs`` (tensor verbs, answered by the static members of the same name) and ``requests``
    (verb -> pydantic body of the family's own, answered by ``serve``: a dict is one JSON response,
    an iterator of dicts/strings a stream of JSON lines). ``dlzoo export`` builds forward's inputs
    with ``export_inputs(loaded, n)`` and lets ``dynamic_dims`` vary (None: dim 0 of each input).
    """

    verbs: ClassVar[tuple[str, ...]] = ()
    requests: ClassVar[dict[str, type[BaseModel]]] = {}
    dynamic_dims: ClassVar[Dynamic | None] = None
    #: forward passes per sample of ``sample`` (1 for a GAN or a VAE decoder; a diffusion model's step
    #: count): the server's compute budget counts a request as n x sample_steps (--max-sample-steps)
    sample_steps: ClassVar[int] = 1

    @staticmethod
    def sample(model: Any, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples (n, *input_shape)."""
        raise NotImplementedError

    @staticmethod
    def reconstruct(model: Any, x: torch.Tensor) -> torch.Tensor:
        """A reconstruction of each example (B, *input_shape)."""
        raise NotImplementedError

    @staticmethod
    def act(model: Any, obs: torch.Tensor) -> torch.Tensor:
        """The greedy action of each observation (B,) or (B, action_dim)."""
        raise NotImplementedError

    @staticmethod
    def serve(verb: str, loaded: LoadedRun, body: Any) -> dict[str, Any] | Iterator[dict[str, Any] | str]:
        """Answer a validated body of ``requests[verb]``."""
        raise NotImplementedError

    @staticmethod
    def export_inputs(loaded: LoadedRun, n: int) -> Inputs:
        """forward's inputs for n examples: Gaussian noise of the run's recorded ``input_shape``."""
        from dlzoo.validation import input_shape

        return (torch.randn((n, *input_shape(loaded)), generator=torch.Generator().manual_seed(n)),)


# -- family figures ---------------------------------------------------------------------------------


class Plots(Protocol):
    """The family's figures after training (the loop adds the learning curves); this class draws none."""

    @staticmethod
    def draw(objective: Any, model: nn.Module, data: Any, folder: Path, *, modes: Any = None) -> list[Path]:
        """PNG files written under ``folder``. ``modes``: the known mixture of a 2-D toy (adversarial), else None."""
        return []


# -- checks at registration -------------------------------------------------------------------------


def members(protocol: type) -> list[str]:
    """Public names a protocol declares: annotated attributes and methods, its bases' included."""
    names: dict[str, None] = {}
    for cls in reversed(protocol.__mro__):
        if cls is Protocol or not getattr(cls, "_is_protocol", False):
            continue
        for name in (*getattr(cls, "__annotations__", {}), *vars(cls)):
            if not name.startswith("_"):
                names[name] = None
    return list(names)


def check_members(piece: Any, protocol: type, *, role: str) -> None:
    """ProtocolError naming the members of ``protocol`` that ``piece`` lacks."""
    missing = [m for m in members(protocol) if not hasattr(piece, m)]
    if missing:
        raise ProtocolError(
            f"{role} {getattr(piece, '__name__', piece)!r} lacks {', '.join(missing)} "
            f"(declared by dlzoo.protocols.{protocol.__name__}; subclass it for the defaults)"
        )


def check_pipeline(pipeline: Any, *, role: str = "pipeline") -> None:
    """A pipeline's verbs are tensor verbs it implements; its own requests have a ``serve``."""
    check_members(pipeline, Pipeline, role=role)
    name = getattr(pipeline, "__name__", pipeline)
    bad = [v for v in pipeline.verbs if v not in TENSOR_VERBS]
    if bad:
        raise ProtocolError(f"{role} {name!r}: verbs {bad} are not tensor verbs; valid: {', '.join(TENSOR_VERBS)}")
    unimplemented = [
        v for v in (*pipeline.verbs, *(("serve",) if pipeline.requests else ())) if _inherited(pipeline, v)
    ]
    if unimplemented:
        raise ProtocolError(f"{role} {name!r} declares {', '.join(unimplemented)} but does not implement it")
    for verb, schema in pipeline.requests.items():
        if not (inspect.isclass(schema) and issubclass(schema, BaseModel)):
            raise ProtocolError(f"{role} {name!r}: requests[{verb!r}] must be a pydantic model class")


def _inherited(pipeline: Any, member: str) -> bool:
    return pipeline is not Pipeline and getattr(pipeline, member) is getattr(Pipeline, member)
