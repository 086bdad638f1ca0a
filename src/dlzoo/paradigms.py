"""The one list of paradigms: how each trains, which ``train:`` fields it reads, and its base configs.

A paradigm is a module in ``dlzoo.tasks`` (how batches are drawn, one step, evaluation) that families
plug into through an objective (``dlzoo.protocols``). ``PARADIGMS[name]`` says

- ``task``: the "module:Class" of its Task, imported when a run starts (paradigms are heavy);
- ``objective``: the protocol its families' objectives implement (checked at registration);
- ``reads``: the ``train:`` fields it reads besides the loop's own (``LOOP_FIELDS``);
- ``ignores``: every other ``train:`` field, with what to set instead. Setting one of them in a
  preset or an override is a ConfigError that says so (``dlzoo.config.check_train_fields``);
- ``data``: what its ``data:`` section names, a dataset or a gymnasium environment.

A new paradigm is one module in ``dlzoo/tasks`` and one entry here; a new ``train:`` field is read
or ignored, with a hint, by every paradigm (``tests/test_layers.py`` checks that the table covers it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dlzoo import protocols

#: ``train:`` fields the loop reads for every paradigm (seeding, devices, cadence, logging)
LOOP_FIELDS = (
    "seed",
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
    "log_every",
    "eval_every",
    "checkpoint_every",
    "tensorboard",
    "progress",
    "retain_freed_memory",
    "threads",
    "early_stop",
    "keep_best",
)
#: the epoch loop's fields: one optimizer from train: (make_optimizer), a per-epoch scheduler, epochs
EPOCHS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "scheduler",
    "step_gamma",
    "step_every",
    "plateau_factor",
    "plateau_patience",
    "min_lr",
    "grad_clip",
)
#: only the supervised paradigm sizes its batches from the training set
_BATCH_FRACTION = {"batch_fraction": "only the supervised paradigm sizes its batch from the data; set train.batch_size"}


@dataclass(frozen=True)
class Paradigm:
    name: str
    task: str  # "module:Class" (or "module:function") that builds its Task from a Context
    objective: type  # the protocol of dlzoo.protocols its objectives implement
    reads: tuple[str, ...]  # train: fields read besides LOOP_FIELDS
    ignores: dict[str, str] = field(default_factory=dict)  # train: field -> what to set instead
    data: Literal["dataset", "environment"] = "dataset"


_LM_SCHEDULE = "set task.warmup_iters / task.decay_lr / task.lr_decay_iters / task.min_lr (the language lr schedule)"
_RL_SCHEDULE = "set task.lr_schedule (the learning rate is scheduled per environment step)"
_GAN_ADAM = "set task.betas_g / task.betas_d (the generator and the critic use Adam)"
_GAN_PLATEAU = "two players have no one training loss to watch: set train.scheduler to cosine or step"
_ONPOLICY_LR = "set task.lr_schedule (PPO/A2C anneal the learning rate per update, SB3's linear schedule)"
_ONPOLICY_OPT = "on-policy objectives build their own optimizer (PPO/REINFORCE: Adam eps 1e-5, A2C: task.optimizer)"
_EPISODES = "set task.meta_batch_size (episodes per meta-update) and task.n_way / task.k_shot / task.n_query"

PARADIGMS: dict[str, Paradigm] = {
    p.name: p
    for p in (
        Paradigm(
            "supervised",
            "dlzoo.tasks.supervised:SupervisedTask",
            protocols.SupervisedObjective,
            (*EPOCHS, "batch_fraction"),
        ),
        Paradigm(
            "generative",
            "dlzoo.tasks.generative:GenerativeTask",
            protocols.GenerativeObjective,
            EPOCHS,
            _BATCH_FRACTION,
        ),
        Paradigm("seq2seq", "dlzoo.tasks.seq2seq:Seq2SeqTask", protocols.Seq2SeqObjective, EPOCHS, _BATCH_FRACTION),
        Paradigm("graph", "dlzoo.tasks.graph:graph_task", protocols.GraphObjective, EPOCHS, _BATCH_FRACTION),
        Paradigm(
            "language",
            "dlzoo.tasks.language:LanguageTask",
            protocols.LanguageObjective,
            ("batch_size", "optimizer", "lr", "weight_decay", "grad_clip"),
            {
                "epochs": "set task.max_iters (optimizer steps; a round is task.eval_interval of them)",
                "momentum": "set task.beta1 (also SGD's momentum here)",
                "scheduler": _LM_SCHEDULE,
                "step_gamma": _LM_SCHEDULE,
                "step_every": _LM_SCHEDULE,
                "plateau_factor": _LM_SCHEDULE,
                "plateau_patience": _LM_SCHEDULE,
                "min_lr": "set task.min_lr (the language lr schedule's floor)",
                **_BATCH_FRACTION,
            },
        ),
        Paradigm(
            "reinforcement",
            "dlzoo.tasks.reinforcement:ReinforcementTask",
            protocols.ReinforcementObjective,
            ("batch_size", "optimizer", "lr", "weight_decay", "momentum", "grad_clip"),
            {
                "epochs": "set task.total_steps (environment steps; a round is task.eval_every_steps of them)",
                "scheduler": _RL_SCHEDULE,
                "step_gamma": _RL_SCHEDULE,
                "step_every": _RL_SCHEDULE,
                "plateau_factor": _RL_SCHEDULE,
                "plateau_patience": _RL_SCHEDULE,
                "min_lr": _RL_SCHEDULE,
                **_BATCH_FRACTION,
            },
            data="environment",
        ),
        Paradigm(
            "on_policy",
            "dlzoo.tasks.onpolicy:OnPolicyTask",
            protocols.OnPolicyObjective,
            ("batch_size", "lr", "grad_clip"),
            {
                "epochs": "set task.total_steps (environment steps; a round is task.eval_every_steps of them)",
                "optimizer": _ONPOLICY_OPT,
                "momentum": _ONPOLICY_OPT,
                "weight_decay": _ONPOLICY_OPT,
                "scheduler": _ONPOLICY_LR,
                "step_gamma": _ONPOLICY_LR,
                "step_every": _ONPOLICY_LR,
                "plateau_factor": _ONPOLICY_LR,
                "plateau_patience": _ONPOLICY_LR,
                "min_lr": _ONPOLICY_LR,
                **_BATCH_FRACTION,
            },
            data="environment",
        ),
        Paradigm(
            "adversarial",
            "dlzoo.tasks.adversarial:AdversarialTask",
            protocols.AdversarialObjective,
            ("epochs", "batch_size", "scheduler", "step_gamma", "step_every", "grad_clip"),
            {
                "lr": "set task.lr_g / task.lr_d",
                "optimizer": _GAN_ADAM,
                "momentum": _GAN_ADAM,
                "weight_decay": "the generator and the critic use Adam without weight decay; remove it",
                "plateau_factor": _GAN_PLATEAU,
                "plateau_patience": _GAN_PLATEAU,
                "min_lr": _GAN_PLATEAU,
                **_BATCH_FRACTION,
            },
        ),
        Paradigm(
            "representation",
            "dlzoo.tasks.representation:RepresentationTask",
            protocols.RepresentationObjective,
            EPOCHS,
            _BATCH_FRACTION,
        ),
        Paradigm(
            "continual",
            "dlzoo.tasks.continual:ContinualTask",
            protocols.ContinualObjective,
            EPOCHS,  # epochs = passes over each task; rounds = tasks x epochs
            _BATCH_FRACTION,
        ),
        Paradigm(
            "episodic",
            "dlzoo.tasks.episodic:EpisodicTask",
            protocols.EpisodicObjective,
            tuple(f for f in EPOCHS if f != "batch_size"),  # epochs = rounds of task.meta_batches_per_round
            {"batch_size": _EPISODES, "batch_fraction": _EPISODES},
        ),
    )
}

#: evaluation draws of the adversarial paradigm (z) come from a generator with this seed; the GAN's
#: figures show the same samples
ADVERSARIAL_EVAL_SEED = 0


# -- base configs of the task: section, extended by the families' objectives -----------------------


class RLConfig(BaseModel):
    """The ``task:`` section of every reinforcement-learning objective (its own fields added)."""

    model_config = ConfigDict(extra="forbid")

    total_steps: int = Field(50_000, ge=1, description="environment steps to train for")
    eval_every_steps: int = Field(5_000, ge=1, description="environment steps per round (then evaluate)")
    eval_episodes: int = Field(10, ge=1, description="greedy episodes per evaluation")
    final_eval_episodes: int = Field(20, ge=1, description="greedy episodes of the final test evaluation")
    buffer_size: int = Field(100_000, ge=1, description="replay capacity (transitions)")
    gamma: float = Field(0.99, gt=0, le=1, description="discount factor")


class OnPolicyConfig(BaseModel):
    """The ``task:`` section of every on-policy objective (REINFORCE, A2C, PPO; their own fields added)."""

    model_config = ConfigDict(extra="forbid")

    total_steps: int = Field(100_000, ge=1, description="environment steps to train for, all environments together")
    eval_every_steps: int = Field(
        10_000, ge=1, description="environment steps per round (then evaluate); each round resets the environments"
    )
    eval_episodes: int = Field(10, ge=1, description="deterministic-policy episodes per evaluation")
    final_eval_episodes: int = Field(20, ge=1, description="deterministic-policy episodes of the final test evaluation")
    n_envs: int = Field(8, ge=1, description="parallel environments of the vector environment")
    n_steps: int = Field(32, ge=1, description="steps per environment per rollout (a rollout is n_envs x n_steps)")
    vectorization: Literal["sync", "async"] = Field(
        "sync",
        description="'sync': gymnasium's SyncVectorEnv, the environments stepped in turn in this process; "
        "'async': AsyncVectorEnv, one subprocess each (for environments slower than the IPC)",
    )
    gamma: float = Field(0.99, gt=0, le=1, description="discount factor γ")
    normalize_reward: bool = Field(
        False,
        description="gymnasium's NormalizeReward: rewards divided by a running std of the discounted return "
        "(γ = task.gamma); training only, the logged and evaluated returns stay raw",
    )


class EpisodicConfig(BaseModel):
    """The ``task:`` section of every episodic (meta-learning) objective (its own fields added)."""

    model_config = ConfigDict(extra="forbid")

    n_way: int = Field(5, ge=1, description="classes per episode (1 for a regression task such as sinusoid)")
    k_shot: int = Field(1, ge=1, description="support examples per class")
    n_query: int = Field(15, ge=1, description="query examples per class (scored after adaptation)")
    meta_batch_size: int = Field(4, ge=1, description="episodes per meta-update (averaged meta-gradient)")
    meta_batches_per_round: int = Field(100, ge=1, description="meta-updates per round (then evaluate)")
    eval_episodes: int = Field(100, ge=1, description="fixed val episodes per evaluation")
    final_eval_episodes: int = Field(600, ge=1, description="fixed test episodes of the final evaluation")
    eval_k_shot: int | None = Field(None, ge=1, description="support examples per class at evaluation (default k_shot)")
    eval_n_way: int | None = Field(None, ge=1, description="classes per evaluation episode (default n_way)")
    within_alphabet: bool = Field(
        False, description="training episodes draw their classes from one alphabet (and rotation), as Lake's runs do"
    )
    augment: Literal["none", "affine"] = Field(
        "none",
        description="affine: every training image gets a random affine distortion (Koch et al. 2015; images only)",
    )


class ContinualConfig(BaseModel):
    """The ``task:`` section of every continual-learning objective: the task stream (its own fields added).

    The stream is cut from the ``data:`` dataset (``dlzoo.data.streams``); its definition (protocol,
    classes / permutation seeds / angles, scenario) is this section, so config.yaml rebuilds it.
    A round is ``train.epochs``-th of a task: one epoch over the current task's training split.
    """

    model_config = ConfigDict(extra="forbid")

    protocol: Literal["split", "permuted", "rotated"] = Field("split", description="how tasks are cut from the data")
    scenario: Literal["task", "domain", "class"] = Field(
        "class", description="task-IL (task id given, a head per task), domain-IL (one head) or class-IL"
    )
    classes: list[list[int]] | None = Field(
        None, description="split: the dataset classes of each task (default consecutive pairs: [[0, 1], [2, 3], ...])"
    )
    num_tasks: int = Field(10, ge=1, description="permuted / rotated: tasks, when seeds / angles are not given")
    seeds: list[int] | None = Field(None, description="permuted: one permutation seed per task (default 1..num_tasks)")
    angles: list[float] | None = Field(
        None, description="rotated: one angle in degrees per task (default num_tasks angles evenly in [0, 180))"
    )
    eval_batch_size: int = Field(1024, ge=1, description="examples per forward pass at evaluation")

    @model_validator(mode="after")
    def _check(self) -> ContinualConfig:
        own = {"split": "classes", "permuted": "seeds", "rotated": "angles"}[self.protocol]
        stray = [k for k in ("classes", "seeds", "angles") if k != own and getattr(self, k) is not None]
        if stray:
            raise ValueError(f"the {self.protocol} protocol reads task.{own}, not task.{stray[0]}")
        return self

    def stream_args(self, num_classes: int) -> dict[str, object]:
        """The keyword arguments of ``dlzoo.data.streams.make_stream``, defaults filled from the data."""
        if self.protocol == "split":
            pairs = [[c, c + 1] for c in range(0, num_classes - 1, 2)]
            return {"classes": self.classes if self.classes is not None else pairs}
        if self.protocol == "permuted":
            return {"seeds": self.seeds if self.seeds is not None else list(range(1, self.num_tasks + 1))}
        angles = [180.0 * i / self.num_tasks for i in range(self.num_tasks)]
        return {"angles": self.angles if self.angles is not None else angles}


class RepresentationConfig(BaseModel):
    """The ``task:`` section of every representation (self-supervised) objective: the evaluation and the
    collapse alarm (each method adds its own fields, augmentations included)."""

    model_config = ConfigDict(extra="forbid")

    rank_every: int = Field(
        20, ge=1, description="log train/effective_rank (RankMe of one view's embeddings) every this many steps"
    )
    collapse_rank: float = Field(
        2.0, ge=1, description="an evaluation whose effective rank is below this warns: the embeddings collapsed"
    )
    knn_k: list[int] = Field([20, 200], description="neighbours of the cosine k-NN accuracies (knn_<k>_accuracy)")
    probe_steps: int = Field(100, ge=1, description="L-BFGS iterations of the linear probe on frozen embeddings")
    probe_every_eval: bool = Field(False, description="fit the linear probe at every evaluation, not only the final")
    few_labels: list[int] = Field(
        [100], description="final evaluation: a linear probe fitted on only this many labelled train examples"
    )
    eval_train_examples: int | None = Field(
        None, ge=1, description="train examples embedded as the probe's and k-NN's reference (None: all)"
    )
    eval_pairs: int = Field(
        1000, ge=2, description="examples of the split whose two views give alignment and uniformity"
    )


class LanguageConfig(BaseModel):
    """The ``task:`` section of a language-model run (nanoGPT's names and defaults where it has them)."""

    model_config = ConfigDict(extra="forbid")

    block_size: int = Field(64, ge=1, description="tokens per training example (the context length trained on)")
    max_iters: int = Field(2000, ge=1, description="optimizer steps in the whole run")
    eval_interval: int = Field(250, ge=1, description="steps per round; the val loss is estimated after each")
    eval_iters: int = Field(20, ge=1, description="random batches averaged into each val/test loss estimate")
    eval_batch_size: int | None = Field(None, ge=1, description="blocks per eval batch (default train.batch_size)")
    warmup_iters: int = Field(100, ge=0, description="linear learning-rate warmup steps")
    decay_lr: bool = Field(True, description="cosine decay from train.lr to min_lr")
    lr_decay_iters: int | None = Field(
        None, ge=1, description="step at which the decay reaches min_lr (default max_iters)"
    )
    min_lr: float = Field(1e-4, ge=0, description="learning rate after the decay")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam beta1")
    beta2: float = Field(0.99, ge=0, lt=1, description="Adam beta2 (nanoGPT's char models: 0.99)")
    full_eval: bool = Field(
        True,
        description="final test also reports loss_full: every token of the split once, "
        "in non-overlapping blocks (the exact expectation of the estimate)",
    )
    compile: bool = Field(False, description="torch.compile the model (its compile time counts in the wall time)")
    microbatch_threads: int = Field(
        1,
        ge=1,
        description="run each step's batch as this many equal micro-batches "
        "in parallel threads with one torch thread each (CPU, one process): the same "
        "full-batch gradient, without per-op OpenMP fork/join on small models",
    )

    @model_validator(mode="after")
    def _check(self) -> LanguageConfig:
        if self.lr_decay_iters is not None and self.lr_decay_iters < self.warmup_iters:
            raise ValueError(f"lr_decay_iters ({self.lr_decay_iters}) must be >= warmup_iters ({self.warmup_iters})")
        if self.microbatch_threads > 1 and self.compile:
            raise ValueError("task.microbatch_threads > 1 and task.compile=true do not combine: choose one")
        return self


def validate_data(paradigm: str, data: dict[str, Any]) -> None:
    """Check the ``data:`` section before training starts: a dataset and its arguments, or an environment."""
    from dlzoo.registry import choices_error

    name = str(data["name"])
    if PARADIGMS[paradigm].data == "environment":
        import gymnasium as gym

        if name not in gym.envs.registry:
            raise ValueError(choices_error("environment", name, [k for k in gym.envs.registry if "-v" in k]))
        extra = sorted(set(data) - {"name"})
        if extra:
            raise ValueError(f"data: environments take no arguments here, got {extra}")
        return
    from dlzoo.data import dataset_params, list_datasets

    if name not in list_datasets():
        raise ValueError(choices_error("dataset", name, list_datasets()))
    valid = dataset_params(name)
    bad = sorted(set(data) - {"name"} - set(valid))
    if bad:
        raise ValueError(f"data: unknown argument(s) {bad} for {name}; valid: {', '.join(valid)}")
