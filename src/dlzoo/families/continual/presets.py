"""Registered continual-learning strategies and their presets (presets are data: partial run configs).

One entrypoint per strategy, all building the same network (``ContinualMLP``); the strategy is the
objective. Presets: ``tiny`` (seconds: Split digits, sklearn's 8 x 8 digits in 5 class-IL tasks of two
classes, a 2 x 32 MLP) and ``default``: Split MNIST in class-IL with van de Ven & Tolias' (2019)
settings: 784-400-400 ReLU, Adam lr 1e-3, batch 128, 2000 iterations per task (their code's
``splitMNIST`` defaults; here 21 epochs of ~12,000 examples = ~1,980 iterations). The other two
scenarios are overrides, ``scenario_overrides(model, scenario)``: ``task.scenario`` and their
regularization strength for it (EWC lambda 1e5 / 1e10 / 1e9, SI c 10 / 5e4 / 5e3 for task / domain /
class), e.g. ``dlzoo train cl_ewc task.scenario=task task.ewc_lambda=1e5``. Permuted MNIST is
``permuted_overrides(model)``.
"""

from __future__ import annotations

from typing import Any

from dlzoo.families.continual.distillation import LwFObjective
from dlzoo.families.continual.gdumb import GDumbObjective
from dlzoo.families.continual.icarl import ICaRLMLP, ICaRLObjective
from dlzoo.families.continual.model import ContinualMLP
from dlzoo.families.continual.objective import FineTuneObjective, JointObjective
from dlzoo.families.continual.packnet import PackNetMLP, PackNetObjective
from dlzoo.families.continual.pipeline import ContinualPipeline
from dlzoo.families.continual.regularization import EWCObjective, OnlineEWCObjective, SIObjective
from dlzoo.families.continual.rehearsal import AGEMObjective, ReplayObjective
from dlzoo.registry import register_model

SCENARIOS = ("task", "domain", "class")
# van de Ven & Tolias (2019), their code's param_values.py for splitMNIST: the strength per scenario
STRENGTH = {
    "cl_ewc": ("ewc_lambda", {"task": 1e5, "domain": 1e10, "class": 1e9}),
    "cl_online_ewc": ("ewc_lambda", {"task": 1e5, "domain": 1e10, "class": 1e9}),
    "cl_si": ("si_c", {"task": 10.0, "domain": 5e4, "class": 5e3}),
}
# Permuted MNIST (10 tasks, domain-IL) as recorded in benchmarks/continual_permuted_mnist.py: the strengths
# of van de Ven & Tolias' (2019) code for permMNIST, domain-IL (EWC lambda 500, online EWC lambda 1000 with
# gamma 0.9, SI c 5), whose Fisher is normalized as ours (a mean over the examples)
PERMUTED_STRENGTH = {
    "cl_ewc": {"ewc_lambda": 500.0},
    "cl_online_ewc": {"ewc_lambda": 1000.0, "gamma": 0.9},
    "cl_si": {"si_c": 5.0},
}
TINY_DATA = {"name": "digits_images"}
TINY_TRAIN = {"epochs": 2, "batch_size": 16, "optimizer": "adam", "lr": 5e-3, "log_every": 5}
PAPER_TRAIN = {"epochs": 21, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "log_every": 50}


def scenario_overrides(model: str, scenario: str) -> list[str]:
    """The overrides that turn ``default`` (class-IL) into Split MNIST in ``scenario``, with its strength."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}")
    out = [f"task.scenario={scenario}"]
    if model in STRENGTH:
        name, values = STRENGTH[model]
        out.append(f"task.{name}={values[scenario]}")
    return out


def permuted_overrides(model: str, *, epochs: int = 1) -> list[str]:
    """The overrides that turn ``default`` into Permuted MNIST: 10 tasks, domain-IL, ``epochs`` per task
    (60,000 images each; 1 epoch = 469 iterations of 128), with the strategy's strength."""
    out = ["task.protocol=permuted", "task.scenario=domain", "task.num_tasks=10", f"train.epochs={epochs}"]
    return out + [f"task.{k}={v}" for k, v in PERMUTED_STRENGTH.get(model, {}).items()]


def presets(
    tiny_task: dict[str, Any] | None = None,
    model: str | None = None,
    *,
    default: dict[str, Any] | None = None,
    scenario: str = "class",
) -> dict[str, dict[str, Any]]:
    """tiny (Split digits) and default (Split MNIST, the paper's settings) of one strategy; ``default``:
    the strategy's own task settings; ``scenario``: class-IL unless the strategy needs another."""
    default_task: dict[str, Any] = {"protocol": "split", "scenario": scenario, **(default or {})}
    if model in STRENGTH:
        name, values = STRENGTH[model]
        default_task[name] = values["class"]
    return {
        "tiny": {
            "model": {"hidden": [32, 32]},
            "data": TINY_DATA,
            "task": {"protocol": "split", "scenario": scenario, **(tiny_task or {})},
            "train": TINY_TRAIN,
        },
        "default": {
            "model": {"hidden": [400, 400]},
            "data": {"name": "mnist"},
            "task": default_task,
            "train": PAPER_TRAIN,
        },
    }


KW = {"family": "continual", "task": "classify", "paradigm": "continual", "pipeline": ContinualPipeline}


def _mlp(input_shape: tuple[int, ...], hidden: tuple[int, ...], num_outputs: int) -> ContinualMLP:
    return ContinualMLP(input_shape=tuple(input_shape), hidden=tuple(hidden), num_outputs=num_outputs)


@register_model(objective=FineTuneObjective, presets=presets(), **KW)
def cl_finetune(
    *, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)
) -> ContinualMLP:
    """Naive fine-tuning on one task after the other (the lower bound: catastrophic forgetting)."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(objective=JointObjective, presets=presets(), **KW)
def cl_joint(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ContinualMLP:
    """Joint training on every task seen so far (the upper bound)."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(
    objective=EWCObjective,
    presets=presets({"ewc_lambda": 100.0, "fisher_samples": 64}, "cl_ewc"),
    **KW,
)
def cl_ewc(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ContinualMLP:
    """Elastic weight consolidation (Kirkpatrick et al. 2017): a diagonal-Fisher penalty per finished task."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(
    objective=OnlineEWCObjective,
    presets=presets({"ewc_lambda": 100.0, "fisher_samples": 64}, "cl_online_ewc"),
    **KW,
)
def cl_online_ewc(
    *, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)
) -> ContinualMLP:
    """Online EWC (Schwarz et al. 2018): one running Fisher, anchored at the latest solution."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(objective=SIObjective, presets=presets({"si_c": 1.0}, "cl_si"), **KW)
def cl_si(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ContinualMLP:
    """Synaptic Intelligence (Zenke et al. 2017): importance from the path integral of the gradient."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(objective=LwFObjective, presets=presets(), **KW)
def cl_lwf(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ContinualMLP:
    """Learning without Forgetting (Li & Hoiem 2017): distil the previous model on the current inputs."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(objective=ReplayObjective, presets=presets({"buffer_size": 100, "replay_batch_size": 32}), **KW)
def cl_replay(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ContinualMLP:
    """Experience replay from a reservoir buffer (Chaudhry et al. 2019, tiny episodic memories)."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(objective=AGEMObjective, presets=presets({"buffer_size": 100, "replay_batch_size": 32}), **KW)
def cl_agem(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ContinualMLP:
    """A-GEM (Chaudhry et al. 2019): project the gradient when it would raise the loss on the memory."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(
    objective=GDumbObjective,
    presets=presets({"buffer_size": 100, "retrain_epochs": 10, "retrain_batch_size": 16, "retrain_lr": 5e-3}),
    **KW,
)
def cl_gdumb(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ContinualMLP:
    """GDumb (Prabhu et al. 2020): a class-balanced greedy memory, the network retrained from scratch on it."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(objective=ICaRLObjective, presets=presets({"buffer_size": 100, "replay_batch_size": 32}), **KW)
def cl_icarl(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ICaRLMLP:
    """iCaRL (Rebuffi et al. 2017): herding exemplars, sigmoid distillation, nearest-mean-of-exemplars classifier."""
    return ICaRLMLP(input_shape=tuple(input_shape), hidden=tuple(hidden), num_outputs=num_outputs)


@register_model(
    objective=PackNetObjective,
    presets=presets({"retrain_epochs": 1, "retrain_batch_size": 16, "retrain_lr": 1e-3}, scenario="task"),
    **KW,
)
def cl_packnet(
    *,
    input_shape: tuple[int, ...],
    num_outputs: int,
    hidden: tuple[int, ...] = (400, 400),
    classes_per_task: int = 2,
) -> PackNetMLP:
    """PackNet (Mallya & Lazebnik 2018): prune, retrain, freeze a sub-network per task (task-IL)."""
    return PackNetMLP(
        input_shape=tuple(input_shape), hidden=tuple(hidden), num_outputs=num_outputs, classes_per_task=classes_per_task
    )
