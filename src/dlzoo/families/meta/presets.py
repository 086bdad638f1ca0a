"""Registered meta-learning entrypoints and their presets (presets are data: partial run configs).

Every model is registered with task ``few_shot``: it is served through ``/adapt`` (support set +
queries), never ``/predict``. Presets: ``tiny`` (seconds, no files: sinusoid for the optimization-based
methods, a generated mini-Omniglot for the metric ones), ``sinusoid_k5`` / ``sinusoid_k10`` (Finn et
al. 2017 sec. 5.1, shortened for one CPU core), ``omniglot_5w1s`` (MAML-type) and ``omniglot_5w1s``
/ ``omniglot_20w1s`` (metric methods: the evaluation's ways), on the small background sets with
held-out alphabets; 5-shot: ``task.k_shot=5``. ``default``: sinusoid_k10, or omniglot_5w1s.
``protonet --preset omniglot_lake``: the recipe for Lake et al.'s within-alphabet runs;
``baseline`` / ``baseline_pp --preset omniglot_tsa_5w1s``: TSA residual adapters fitted per task.
"""

from __future__ import annotations

from typing import Any

from dlzoo.families.meta.baseline import BaselinePPObjective
from dlzoo.families.meta.maml import ANILObjective, FOMAMLObjective, MAMLObjective
from dlzoo.families.meta.metric import MatchingNetObjective, ProtoNetObjective
from dlzoo.families.meta.model import FewShotNet, backbone
from dlzoo.families.meta.pipeline import MetaPipeline
from dlzoo.families.meta.plots import MetaPlots
from dlzoo.families.meta.reptile import ReptileObjective
from dlzoo.registry import register_model

SINE = {"name": "sinusoid"}
TINY_IMAGES = {"name": "omniglot_synthetic", "num_classes": 30, "per_class": 10, "image_size": 28}
OMNIGLOT = {"name": "omniglot"}  # the two small background sets; 1 val + 2 test alphabets held out
EVAL = {"eval_episodes": 100, "final_eval_episodes": 600}


def sinusoid(k: int, task: dict[str, Any], train: dict[str, Any]) -> dict[str, Any]:
    """K-shot sinusoid regression (one way), 2 x 40 MLP; Finn et al.: Adam 1e-3, 25 tasks per update."""
    return {
        "model": {"hidden": 40},
        "data": SINE,
        "task": {"n_way": 1, "k_shot": k, "n_query": 10, **EVAL, **task},
        "train": {"epochs": 10, "log_every": 100, **train},
    }


def omniglot(n_way: int, k_shot: int, task: dict[str, Any], train: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {"hidden": 64},
        "data": OMNIGLOT,
        "task": {"n_way": n_way, "k_shot": k_shot, "n_query": 5, **EVAL, **task},
        "train": {"epochs": 10, "log_every": 50, **train},
    }


def family_presets(
    sine_task: dict[str, Any], sine_train: dict[str, Any], omni_task: dict[str, Any], omni_train: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """tiny, default (= sinusoid_k10), sinusoid_k5, sinusoid_k10, omniglot_5w1s of an optimization-based method."""
    tiny_task = {**sine_task, "meta_batch_size": 5, "meta_batches_per_round": 20, "eval_episodes": 10}
    tiny = sinusoid(5, {**tiny_task, "final_eval_episodes": 20}, {**sine_train, "epochs": 2, "log_every": 10})
    return {
        "tiny": tiny,
        "default": sinusoid(10, sine_task, sine_train),
        "sinusoid_k5": sinusoid(5, sine_task, sine_train),
        "sinusoid_k10": sinusoid(10, sine_task, sine_train),
        "omniglot_5w1s": omniglot(5, 1, omni_task, omni_train),  # 5-shot: task.k_shot=5; 20-way: task.n_way=20
    }


# Finn et al. 2017: sinusoid alpha = 0.01, 1 inner step (10 at test), 25 tasks per meta-update, Adam 1e-3;
# Omniglot alpha = 0.4, 1 step (3 at test), 32 tasks (here 8: one CPU core), Adam 1e-3
MAML_SINE = {"inner_lr": 0.01, "inner_steps": 1, "eval_inner_steps": 10, "meta_batch_size": 25}
MAML_OMNI = {"inner_lr": 0.4, "inner_steps": 1, "eval_inner_steps": 3, "meta_batch_size": 8}
ADAM = {"optimizer": "adam", "lr": 1e-3}
# Reptile (Nichol et al. 2018): SGD inner loop, the outer step theta += eps (phi - theta) as SGD, lr = eps
REPTILE_SINE = {"inner_lr": 0.02, "inner_steps": 10, "eval_inner_steps": 10, "meta_batch_size": 10}
REPTILE_OMNI = {"inner_lr": 0.1, "inner_steps": 5, "eval_inner_steps": 10, "meta_batch_size": 5}
OUTER_SGD = {"optimizer": "sgd", "lr": 1.0, "momentum": 0.0}


def _net(input_shape: tuple[int, ...], out_features: int | None, hidden: int, norm: str, head: str) -> FewShotNet:
    return FewShotNet(
        backbone(input_shape=tuple(input_shape), hidden=hidden, norm=norm), out_features=out_features, head=head
    )


OPT_KW = {"family": "meta", "task": "few_shot", "paradigm": "episodic", "pipeline": MetaPipeline, "plots": MetaPlots}


@register_model(objective=MAMLObjective, presets=family_presets(MAML_SINE, ADAM, MAML_OMNI, ADAM), **OPT_KW)
def maml(*, input_shape: tuple[int, ...], out_features: int, hidden: int = 64, norm: str = "episode") -> FewShotNet:
    """MAML with second-order meta-gradients (Finn et al. 2017): Conv-4 or 2 x 40 MLP + linear head."""
    return _net(input_shape, out_features, hidden, norm, "linear")


@register_model(objective=FOMAMLObjective, presets=family_presets(MAML_SINE, ADAM, MAML_OMNI, ADAM), **OPT_KW)
def fomaml(*, input_shape: tuple[int, ...], out_features: int, hidden: int = 64, norm: str = "episode") -> FewShotNet:
    """First-order MAML (Finn et al. 2017, sec. 5.2): the meta-gradient without second derivatives."""
    return _net(input_shape, out_features, hidden, norm, "linear")


@register_model(objective=ANILObjective, presets=family_presets(MAML_SINE, ADAM, MAML_OMNI, ADAM), **OPT_KW)
def anil(*, input_shape: tuple[int, ...], out_features: int, hidden: int = 64, norm: str = "episode") -> FewShotNet:
    """ANIL (Raghu et al. 2020): MAML whose inner loop adapts the head only."""
    return _net(input_shape, out_features, hidden, norm, "linear")


@register_model(
    objective=ReptileObjective,
    presets=family_presets(REPTILE_SINE, OUTER_SGD, REPTILE_OMNI, OUTER_SGD),
    **OPT_KW,
)
def reptile(*, input_shape: tuple[int, ...], out_features: int, hidden: int = 64, norm: str = "episode") -> FewShotNet:
    """Reptile (Nichol et al. 2018): step the initialization towards each task's adapted weights."""
    return _net(input_shape, out_features, hidden, norm, "linear")


def metric_presets(task: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """tiny (generated strokes), omniglot_5w1s / omniglot_20w1s (the evaluation's ways); training with 20 ways
    (Snell et al.: more ways in training than at test help), 5 queries per class, Adam 1e-3."""
    task = task or {}
    tiny = {
        "model": {"hidden": 16},
        "data": TINY_IMAGES,
        "task": {
            "n_way": 5,
            "k_shot": 1,
            "n_query": 3,
            "meta_batch_size": 2,
            "meta_batches_per_round": 10,
            "eval_episodes": 10,
            "final_eval_episodes": 20,
            **task,
        },
        "train": {"epochs": 2, "log_every": 5, **ADAM},
    }
    out = {"tiny": tiny}
    for n in (5, 20):  # 5-shot: task.k_shot=5 (the training and the evaluation shots)
        run_task = {"n_way": 20, "k_shot": 1, "n_query": 5, "meta_batch_size": 1, "eval_n_way": n, **EVAL, **task}
        out[f"omniglot_{n}w1s"] = {
            "model": {"hidden": 64},
            "data": OMNIGLOT,
            "task": run_task,
            "train": {"epochs": 10, "log_every": 50, **ADAM},
        }
    out["default"] = out["omniglot_5w1s"]
    return out


METRIC_KW = {**OPT_KW, "presets": metric_presets()}
# Lake et al.'s 20 runs (within-alphabet 20-way 1-shot): 1-shot training episodes drawn within one alphabet
# and rotation, up to 60 ways (an alphabet has 17-47 characters here), 5 queries (Snell et al. 2017: more
# ways than at test, shots as at test), the val alphabet trains too, every training image with a random
# affine distortion (Koch et al. 2015), Adam 1e-3 annealed to 0 by a cosine, 6000 updates (rounds of 100)
# as the recorded run (benchmarks/meta_omniglot.py --tag _lake --augment --cosine --updates 6000: 92.75% on
# Lake's runs, 20 CPU-minutes), bf16 autocast
# (measured 1.6-1.8x faster per step than fp32 on an AMX CPU). Without the distortions the held-out
# accuracy stopped improving after ~1300 updates (README, Results)
LAKE = {
    "model": {"hidden": 64},
    "data": {**OMNIGLOT, "val_alphabets": 0},
    "task": {
        "n_way": 60,
        "k_shot": 1,
        "n_query": 5,
        "within_alphabet": True,
        "augment": "affine",
        "meta_batch_size": 1,
        "eval_n_way": 20,
        **EVAL,
    },
    "train": {"epochs": 60, "log_every": 50, "scheduler": "cosine", "precision": "auto", **ADAM},
}


@register_model(objective=ProtoNetObjective, **{**METRIC_KW, "presets": {**metric_presets(), "omniglot_lake": LAKE}})
def protonet(*, input_shape: tuple[int, ...], hidden: int = 64, norm: str = "batch") -> FewShotNet:
    """Prototypical Networks (Snell et al. 2017): nearest class mean in a learned Conv-4 embedding."""
    return _net(input_shape, None, hidden, norm, "none")


@register_model(objective=MatchingNetObjective, **METRIC_KW)
def matchingnet(*, input_shape: tuple[int, ...], hidden: int = 64, norm: str = "batch") -> FewShotNet:
    """Matching Networks (Vinyals et al. 2016) without full context embeddings: cosine attention over the support."""
    return _net(input_shape, None, hidden, norm, "none")


def baseline_presets() -> dict[str, dict[str, Any]]:
    """metric_presets with 20 fine-tuning steps, plus ``omniglot_tsa_5w1s``: TSA's residual adapters."""
    out = metric_presets({"finetune_steps": 20})
    tsa = out["omniglot_5w1s"]
    out["omniglot_tsa_5w1s"] = {**tsa, "task": {**tsa["task"], "adapter": "residual", "finetune_steps": 40}}
    return out


@register_model(objective=BaselinePPObjective, presets=baseline_presets(), **OPT_KW)
def baseline(
    *, input_shape: tuple[int, ...], num_train_classes: int, hidden: int = 64, norm: str = "batch"
) -> FewShotNet:
    """Baseline (Chen et al. 2019): a linear classifier over all train classes; a new linear head per task."""
    return _net(input_shape, num_train_classes, hidden, norm, "linear")


@register_model(objective=BaselinePPObjective, presets=baseline_presets(), **OPT_KW)
def baseline_pp(
    *, input_shape: tuple[int, ...], num_train_classes: int, hidden: int = 64, norm: str = "batch"
) -> FewShotNet:
    """Baseline++ (Chen et al. 2019): a cosine classifier over all train classes; a new cosine head per task."""
    return _net(input_shape, num_train_classes, hidden, norm, "cosine")
