"""Task streams for continual learning: a sequence of tasks cut from one image dataset.

Three protocols (van de Ven & Tolias 2019, "Three scenarios for continual learning", sec. 2-3):

- ``split``: the classes are cut into disjoint tasks (Split MNIST: [[0, 1], [2, 3], ..., [8, 9]]);
- ``permuted``: every task is the whole dataset with its pixels shuffled by one fixed permutation
  (Permuted MNIST; Goodfellow et al. 2013), drawn from ``torch.Generator().manual_seed(seed)``;
- ``rotated``: every task is the whole dataset rotated by one angle (Rotated MNIST; Lopez-Paz &
  Ranzato 2017), through ``affine_grid`` + ``grid_sample`` (bilinear, zeros outside).

Each task has ``k`` local labels 0..k-1 (the position of a class in its task for ``split``, the digit
for the others). The scenario says what the model must output (the same three for every protocol):

- ``task`` (Task-IL): the task id is given; task t owns the output units [t k, (t + 1) k): a multi-headed
  output layer (van de Ven & Tolias' "multi-headed" setup), target = unit t k + local label, scored
  against its own head's units only;
- ``domain`` (Domain-IL): no task id, one shared head of k units, target = local label;
- ``class`` (Class-IL): no task id, the task must be inferred; T k units, target = t k + local label,
  and while task i trains (or is evaluated after task i) only the units of the tasks seen so far,
  [0, (i + 1) k), are active (the "active classes" of van de Ven & Tolias).

So output unit u always means (task u // k, local label u % k), and ``StreamHeads`` turns the scenario
into boolean masks of the active units for a batch of task ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from dlzoo.data.base import DataError, Split, TensorData

SCENARIOS = ("task", "domain", "class")
PROTOCOLS = ("split", "permuted", "rotated")


@dataclass
class Experience:
    """One task of the stream.

    Shapes:
        splits[s].x: (N_s, *input_shape) float32; splits[s].y: (N_s,) int64 local labels 0..k-1
    """

    index: int
    splits: dict[str, Split]  # "train", "test" and "val" when the dataset has one
    classes: tuple[int, ...]  # the dataset's label of each local label (split: its classes; else 0..k-1)


@dataclass
class StreamBatch:
    """Examples of one or more tasks, as a strategy sees them.

    Shapes:
        x: (B, *input_shape); y: (B,) int64 output units to predict (``TaskStream.targets``); task: (B,) int64
    """

    x: torch.Tensor
    y: torch.Tensor
    task: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class TaskStream:
    """The tasks, the scenario and the definition that rebuilds them (recorded in the run)."""

    tasks: list[Experience]
    scenario: str
    classes_per_task: int  # k: local labels per task
    definition: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tasks)

    @property
    def num_outputs(self) -> int:
        """Output units of the model: k (domain) or T k (task, class)."""
        return self.classes_per_task if self.scenario == "domain" else len(self.tasks) * self.classes_per_task

    def targets(self, task: int, y: torch.Tensor) -> torch.Tensor:
        """Local labels (N,) -> the output unit to predict (N,): y on domain-IL's shared head, else t k + y."""
        return y if self.scenario == "domain" else y + task * self.classes_per_task

    def heads(self, seen: int) -> StreamHeads:
        """The active units when ``seen`` tasks have been (or are being) trained."""
        return StreamHeads(self.scenario, self.classes_per_task, self.num_outputs, seen)

    def batch(self, tasks: list[int], split: str = "train") -> StreamBatch:
        """Every example of ``tasks`` in ``split``, targets in the scenario's units."""
        parts = [self.tasks[t].splits[split] for t in tasks]
        x = torch.cat([p.x for p in parts])
        y = torch.cat([self.targets(t, p.y) for t, p in zip(tasks, parts, strict=True)])
        task = torch.cat([torch.full((len(p),), t, dtype=torch.int64) for t, p in zip(tasks, parts, strict=True)])
        return StreamBatch(x, y, task)

    def train_size(self) -> int:
        return sum(len(t.splits["train"]) for t in self.tasks)


@dataclass(frozen=True)
class StreamHeads:
    """Which output units are active for an example of task t, with ``seen`` tasks trained so far."""

    scenario: str
    k: int
    num_outputs: int
    seen: int

    def mask(self, task: torch.Tensor) -> torch.Tensor:
        """task (B,) int64 -> (B, num_outputs) bool, True for the units the example is scored on."""
        units = torch.arange(self.num_outputs, device=task.device)  # (O,)
        if self.scenario == "task":  # its own head: [t k, (t + 1) k)
            return (units[None] // self.k) == task[:, None]
        if self.scenario == "domain":  # the one shared head
            return torch.ones(len(task), self.num_outputs, dtype=torch.bool, device=task.device)
        return (units < self.seen * self.k)[None].expand(len(task), -1)  # class: every seen class


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Inactive units set to -inf: softmax and argmax then run over the active units only. (B, O)"""
    return logits.masked_fill(~mask, float("-inf"))


# -- the three protocols ---------------------------------------------------------------------------


def check_classes(classes: list[list[int]], num_classes: int) -> None:
    """Split tasks must be non-empty, disjoint, of one size, and name classes the dataset has."""
    if not classes:
        raise DataError("a split stream needs at least one task; got no tasks")
    for i, task in enumerate(classes):
        if not task:
            raise DataError(f"task {i} of the split stream is empty: every task needs at least one class")
        bad = [c for c in task if not 0 <= c < num_classes]
        if bad:
            raise DataError(f"task {i} names classes {bad} the dataset lacks; valid: 0..{num_classes - 1}")
        if len(set(task)) != len(task):
            raise DataError(f"task {i} lists a class twice: {task}")
    owner: dict[int, int] = {}
    for i, task in enumerate(classes):
        for c in task:
            if c in owner:
                raise DataError(f"tasks {owner[c]} and {i} overlap: class {c} is in both; tasks must be disjoint")
            owner[c] = i
    sizes = sorted({len(t) for t in classes})
    if len(sizes) > 1:
        raise DataError(f"every task needs the same number of classes (one head size); got sizes {sizes}")


def split_stream(data: TensorData, *, classes: list[list[int]], scenario: str) -> TaskStream:
    """Split protocol: task i holds the examples of ``classes[i]``, relabelled 0..k-1 in that order."""
    check_classes(classes, data.info.num_classes or 0)
    tasks = []
    for i, cs in enumerate(classes):
        local = torch.full((max(cs) + 1,), -1, dtype=torch.int64)
        local[torch.tensor(cs)] = torch.arange(len(cs))  # dataset label -> position in the task
        splits = {}
        for name, part in _splits(data).items():
            keep = torch.isin(part.y, torch.tensor(cs))  # (N,)
            splits[name] = Split(x=part.x[keep], y=local[part.y[keep]])
        tasks.append(Experience(i, splits, tuple(cs)))
    definition = {"protocol": "split", "classes": [list(c) for c in classes]}
    return TaskStream(tasks, scenario, len(classes[0]), definition)


def permuted_stream(data: TensorData, *, seeds: list[int], scenario: str) -> TaskStream:
    """Permuted protocol: task i is every example with its D input values permuted by seed ``seeds[i]``."""
    if not seeds:
        raise DataError("a permuted stream needs at least one permutation seed")
    if len(set(seeds)) != len(seeds):
        raise DataError(f"permutation seeds must differ (two equal seeds make two identical tasks): {seeds}")
    dim = math.prod(data.info.input_shape)
    tasks = []
    for i, seed in enumerate(seeds):
        perm = torch.randperm(dim, generator=torch.Generator().manual_seed(seed))  # (D,)
        splits = {
            n: Split(x=p.x.reshape(len(p), dim)[:, perm].reshape(p.x.shape), y=p.y) for n, p in _splits(data).items()
        }
        tasks.append(Experience(i, splits, tuple(range(data.info.num_classes or 0))))
    definition = {"protocol": "permuted", "seeds": list(seeds)}
    return TaskStream(tasks, scenario, data.info.num_classes or 0, definition)


def rotate(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Images (N, C, H, W) rotated counter-clockwise by ``degrees`` about their centre (bilinear)."""
    a = math.radians(degrees)
    # affine_grid maps each output pixel's (x, y) to the input point it reads; y grows downwards, so a
    # counter-clockwise turn on screen reads from [[cos a, -sin a], [sin a, cos a]] (x, y)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]], dtype=x.dtype)
    grid = F.affine_grid(theta.expand(len(x), 2, 3), list(x.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotated_stream(data: TensorData, *, angles: list[float], scenario: str) -> TaskStream:
    """Rotated protocol: task i is every example rotated by ``angles[i]`` degrees."""
    if not angles:
        raise DataError("a rotated stream needs at least one angle")
    if len(data.info.input_shape) != 3:
        raise DataError(f"rotation needs images (C, H, W); this dataset's inputs are {data.info.input_shape}")
    if len(set(angles)) != len(angles):
        raise DataError(f"angles must differ (two equal angles make two identical tasks): {angles}")
    tasks = []
    for i, angle in enumerate(angles):
        splits = {n: Split(x=rotate(p.x, angle), y=p.y) for n, p in _splits(data).items()}
        tasks.append(Experience(i, splits, tuple(range(data.info.num_classes or 0))))
    definition = {"protocol": "rotated", "angles": [float(a) for a in angles]}
    return TaskStream(tasks, scenario, data.info.num_classes or 0, definition)


def make_stream(
    data: TensorData,
    *,
    protocol: str,
    scenario: str,
    classes: list[list[int]] | None = None,
    seeds: list[int] | None = None,
    angles: list[float] | None = None,
) -> TaskStream:
    """The stream of ``protocol`` over ``data``; each protocol reads its own argument and refuses the others'."""
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown stream protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if scenario not in SCENARIOS:
        raise DataError(f"unknown scenario {scenario!r}; valid: {', '.join(SCENARIOS)}")
    if data.info.num_classes is None:
        raise DataError(f"a task stream needs a labelled classification dataset; {data.info.name} has no classes")
    given = {"classes": classes, "seeds": seeds, "angles": angles}
    own = {"split": "classes", "permuted": "seeds", "rotated": "angles"}[protocol]
    stray = [k for k, v in given.items() if v is not None and k != own]
    if stray:
        raise DataError(f"the {protocol} protocol reads {own}, not {stray}")
    if given[own] is None:
        raise DataError(f"the {protocol} protocol needs {own}")
    if protocol == "split":
        return split_stream(data, classes=classes or [], scenario=scenario)
    if protocol == "permuted":
        return permuted_stream(data, seeds=seeds or [], scenario=scenario)
    return rotated_stream(data, angles=angles or [], scenario=scenario)


def _splits(data: TensorData) -> dict[str, Split]:
    out = {"train": data.train, "test": data.test}
    if data.val is not None:
        out["val"] = data.val
    return out
