"""Registered continual-learning strategies and their presets (presets are data: partial run configs).

One entrypoint per strategy, all building the same network (``ContinualMLP``); the strategy is the
objective. Presets: ``tiny`` (seconds: Split digits, sklearn's 8 x 8 digits in 5 class-IL tasks of two
classes, a 2 x 32 MLP), and Split MNIST in the three scenarios, ``split_mnist_task`` /
``split_mnist_domain`` / ``split_mnist_class`` (= ``default``), with van de Ven & Tolias' (2019)
settings: 784-400-400 ReLU, Adam lr 1e-3, batch 128, 2000 iterations per task (their code's
``splitMNIST`` defaults; here 21 epochs of ~12,000 examples = ~1,980 iterations), and their
regularization strengths per scenario (EWC lambda 1e5 / 1e10 / 1e9, SI c 10 / 5e4 / 5e3).
"""

from __future__ import annotations

from typing import Any

from dlzoo.families.continual.distillation import LwFObjective
from dlzoo.families.continual.model import ContinualMLP
from dlzoo.families.continual.objective import FineTuneObjective, JointObjective
from dlzoo.families.continual.pipeline import ContinualPipeline
from dlzoo.families.continual.regularization import EWCObjective, OnlineEWCObjective, SIObjective
from dlzoo.families.continual.rehearsal import AGEMObjective, ReplayObjective
from dlzoo.registry import register_model

SCENARIOS = ("task", "domain", "class")
# van de Ven & Tolias (2019), their code's param_values.py for splitMNIST, per scenario
EWC_LAMBDA = {"task": 1e5, "domain": 1e10, "class": 1e9}
SI_C = {"task": 10.0, "domain": 5e4, "class": 5e3}
TINY_DATA = {"name": "digits_images"}
TINY_TRAIN = {"epochs": 2, "batch_size": 16, "optimizer": "adam", "lr": 5e-3, "log_every": 5}
PAPER_TRAIN = {"epochs": 21, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "log_every": 50}


def presets(
    tiny_task: dict[str, Any] | None = None, per_scenario: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """tiny, split_mnist_{task,domain,class} and default (= split_mnist_class) of one strategy."""
    out: dict[str, dict[str, Any]] = {
        "tiny": {
            "model": {"hidden": [32, 32]},
            "data": TINY_DATA,
            "task": {"protocol": "split", "scenario": "class", **(tiny_task or {})},
            "train": TINY_TRAIN,
        }
    }
    for s in SCENARIOS:
        out[f"split_mnist_{s}"] = {
            "model": {"hidden": [400, 400]},
            "data": {"name": "mnist"},
            "task": {"protocol": "split", "scenario": s, **(per_scenario or {}).get(s, {})},
            "train": PAPER_TRAIN,
        }
    out["default"] = out["split_mnist_class"]
    return out


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
    presets=presets({"ewc_lambda": 100.0, "fisher_samples": 64}, {s: {"ewc_lambda": v} for s, v in EWC_LAMBDA.items()}),
    **KW,
)
def cl_ewc(*, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)) -> ContinualMLP:
    """Elastic weight consolidation (Kirkpatrick et al. 2017): a diagonal-Fisher penalty per finished task."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(
    objective=OnlineEWCObjective,
    presets=presets({"ewc_lambda": 100.0, "fisher_samples": 64}, {s: {"ewc_lambda": v} for s, v in EWC_LAMBDA.items()}),
    **KW,
)
def cl_online_ewc(
    *, input_shape: tuple[int, ...], num_outputs: int, hidden: tuple[int, ...] = (400, 400)
) -> ContinualMLP:
    """Online EWC (Schwarz et al. 2018): one running Fisher, anchored at the latest solution."""
    return _mlp(input_shape, hidden, num_outputs)


@register_model(objective=SIObjective, presets=presets({"si_c": 1.0}, {s: {"si_c": v} for s, v in SI_C.items()}), **KW)
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
