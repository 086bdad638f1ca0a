"""Few-shot data: Omniglot from its canonical zips, a generated mini-Omniglot, the sinusoid tasks of MAML.

A few-shot dataset is a :class:`FewShotData`: the usual train / val / test splits (images and their
class ids, each split with classes of its own) plus, per split, an **episode source** that draws one
N-way K-shot task from a ``torch.Generator``. :class:`EpisodeSampler` seeds that generator from
``(seed, round)`` for training and from ``(split, episode index)`` for evaluation, so a resumed run
sees the same tasks and every run is evaluated on the same fixed episodes.

- ``omniglot`` (Lake et al. 2015, github.com/brendenlake/omniglot): PNGs of 105x105 read from the zips
  (``images_background_small1/2.zip`` by default, or the full ``images_background.zip`` /
  ``images_evaluation.zip``), inverted (strokes = 1) and resized to 28x28; whole alphabets are held
  out for val and test; rotations by 90/180/270 degrees are extra classes (Santoro et al. 2016) of the
  train split. :func:`omniglot_one_shot_runs` reads Lake et al.'s 20 one-shot 20-way runs.
- ``omniglot_synthetic``: generated stroke classes of the same shape, no files (tiny presets, tests).
- ``sinusoid`` (Finn et al. 2017, sec. 5.1): y = A sin(x - phi), A ~ U[0.1, 5], phi ~ U[0, pi],
  x ~ U[-5, 5]; generated, no files.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from dlzoo.data.base import DataError, DataInfo, Split, TensorData, register_dataset
from dlzoo.data.download import Resource, fetch

OMNIGLOT_FOLDER = "omniglot"
_OMNIGLOT_URL = "https://github.com/brendenlake/omniglot/raw/master/python/"
#: the canonical zips and their sha256 (the small sets and all_runs.zip: ../shared/data/MANIFEST.md;
#: the full sets: TensorFlow Datasets' url_checksums/omniglot.txt); tests replace entries with their own zips
OMNIGLOT_FILES: dict[str, Resource] = {
    "background": Resource(
        "images_background.zip",
        _OMNIGLOT_URL + "images_background.zip",
        "ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640",
    ),
    "evaluation": Resource(
        "images_evaluation.zip",
        _OMNIGLOT_URL + "images_evaluation.zip",
        "1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee",
    ),
    "background_small1": Resource(
        "images_background_small1.zip",
        _OMNIGLOT_URL + "images_background_small1.zip",
        "f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4",
    ),
    "background_small2": Resource(
        "images_background_small2.zip",
        _OMNIGLOT_URL + "images_background_small2.zip",
        "3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f",
    ),
    "runs": Resource(
        "all_runs.zip",
        _OMNIGLOT_URL + "one-shot-classification/all_runs.zip",
        "437c1eeab0af8484112e1b4cc0f3d541ec727f7c47b9b202da738af9dfd6c325",
    ),
}
#: eval episodes of split s are drawn with seeds EVAL_SEEDS[s] * 1_000_003 + episode index
EVAL_SEEDS = {"train": 1, "val": 2, "test": 3}
#: round r's distortions (``EpisodeSampler(augment=...)``) are drawn with seed AUGMENT_SEED + seed * 1_000_003 + r
AUGMENT_SEED = 1 << 40


@dataclass
class Episode:
    """One N-way K-shot task: a support set to adapt on and a query set to be scored on.

    Shapes:
        support_x: (N*K, *input_shape); support_y: (N*K,) int64 in [0, N), or (N*K, 1) float (regression)
        query_x: (N*Q, *input_shape); query_y: like support_y
        classes: (N,) the split's class ids behind labels 0..N-1 (regression: (2,) amplitude and phase)
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    classes: torch.Tensor


class ClassPool:
    """The episodes of one split of a classification set: ``x`` (M, C, H, W) with class ids ``y``.

    With ``rotations=4`` every class c has 4 versions (c, r), rotated by r * 90 degrees: class id
    ``c * 4 + r`` of ``num_classes = 4 C``, rotated when the episode is drawn (nothing is stored twice).

    ``groups`` (C,): the alphabet of each base class. A group is then (alphabet, rotation): the
    alphabet's characters all turned by the same angle; ``episode(..., within_group=True)`` draws its
    classes from one group (Lake et al.'s runs are within-alphabet), at most the group's size.
    """

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, *, rotations: int = 1, groups: torch.Tensor | None = None
    ) -> None:
        self.x, self.rotations = x, rotations
        self.members = [torch.nonzero(y == c).flatten() for c in torch.unique(y).tolist()]
        self.num_classes = len(self.members) * rotations
        self.min_count = min(len(m) for m in self.members)
        self.group_classes: list[torch.Tensor] = []  # per (group, rotation): its class ids
        if groups is not None:
            for g in torch.unique(groups).tolist():
                base = torch.nonzero(groups == g).flatten()
                self.group_classes += [base * rotations + r for r in range(rotations)]

    def class_images(self, c: int) -> torch.Tensor:
        """All images of class id c (rotation applied): (n_c, C, H, W)."""
        base, r = divmod(c, self.rotations)
        return torch.rot90(self.x[self.members[base]], r, dims=(-2, -1))

    def episode(
        self, gen: torch.Generator, *, n_way: int, k_shot: int, n_query: int, within_group: bool = False
    ) -> Episode:
        if n_way > self.num_classes or k_shot + n_query > self.min_count:
            raise DataError(
                f"cannot draw {n_way}-way {k_shot}-shot episodes with {n_query} queries: this split has "
                f"{self.num_classes} classes and at least {self.min_count} examples per class"
            )
        if within_group:
            if not self.group_classes:
                raise DataError("within-alphabet episodes need the alphabet of every class (omniglot has them)")
            group = self.group_classes[int(torch.randint(len(self.group_classes), (), generator=gen))]
            classes = group[torch.randperm(len(group), generator=gen)[:n_way]]  # (min(N, group size),)
        else:
            classes = torch.randperm(self.num_classes, generator=gen)[:n_way]  # (N,)
        n_way = len(classes)
        sx, qx = [], []
        for c in classes.tolist():
            images = self.class_images(c)
            pick = torch.randperm(len(images), generator=gen)[: k_shot + n_query]  # disjoint support/query
            sx.append(images[pick[:k_shot]])
            qx.append(images[pick[k_shot:]])
        labels = torch.arange(n_way)
        return Episode(
            torch.cat(sx), labels.repeat_interleave(k_shot), torch.cat(qx), labels.repeat_interleave(n_query), classes
        )


@dataclass(frozen=True)
class SinusoidTasks:
    """Finn et al. 2017's regression tasks y = A sin(x - phi); an episode is one task, K support points."""

    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)
    num_classes: int = 1  # one "way": a regression task

    def draw(self, gen: torch.Generator) -> tuple[float, float]:
        a = self.amplitude[0] + (self.amplitude[1] - self.amplitude[0]) * float(torch.rand((), generator=gen))
        p = self.phase[0] + (self.phase[1] - self.phase[0]) * float(torch.rand((), generator=gen))
        return a, p

    def inputs(self, n: int, gen: torch.Generator) -> torch.Tensor:
        lo, hi = self.x_range
        return lo + (hi - lo) * torch.rand(n, 1, generator=gen)  # (n, 1)

    def episode(self, gen: torch.Generator, *, n_way: int, k_shot: int, n_query: int) -> Episode:
        if n_way != 1:
            raise DataError(f"sinusoid episodes are one regression task each: n_way must be 1, got {n_way}")
        a, p = self.draw(gen)
        xs, xq = self.inputs(k_shot, gen), self.inputs(n_query, gen)
        return Episode(xs, a * torch.sin(xs - p), xq, a * torch.sin(xq - p), torch.tensor([a, p]))


@dataclass
class FewShotData(TensorData):
    """Train / val / test splits plus an episode source per split (``pools[split].episode(gen, ...)``)."""

    pools: dict[str, ClassPool | SinusoidTasks] = field(default_factory=dict)


class EpisodeSampler:
    """N-way K-shot episodes of one dataset: training rounds seeded by (seed, round), fixed eval episodes.

    Round r of a run with seed s draws its ``count`` meta-batches of ``meta_batch_size`` episodes from
    ``torch.Generator().manual_seed(s * 1_000_003 + r)``: resuming at round r replays them exactly.
    """

    def __init__(
        self,
        data: FewShotData,
        *,
        n_way: int,
        k_shot: int,
        n_query: int,
        seed: int,
        within_group: bool = False,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    ) -> None:
        self.data, self.n_way, self.k_shot, self.n_query, self.seed = data, n_way, k_shot, n_query, seed
        self.within = {"within_group": True} if within_group else {}  # one alphabet (and rotation) per episode
        self.augment = augment  # training episodes only: e.g. dlzoo.data.affine.AffineJitter

    def draw(self, split: str, gen: torch.Generator) -> Episode:
        pool = self.data.pools[split]
        return pool.episode(gen, n_way=self.n_way, k_shot=self.k_shot, n_query=self.n_query, **self.within)

    def round(self, round_idx: int, *, count: int, meta_batch_size: int) -> Iterator[list[Episode]]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + round_idx)
        # the distortions have a generator of their own: the same episodes are drawn with or without them
        aug = torch.Generator().manual_seed(AUGMENT_SEED + self.seed * 1_000_003 + round_idx)
        for _ in range(count):
            episodes = [self.draw("train", gen) for _ in range(meta_batch_size)]
            yield [self.distort(ep, aug) for ep in episodes] if self.augment else episodes

    def distort(self, ep: Episode, gen: torch.Generator) -> Episode:
        """The episode with every support and query image distorted on its own; labels and split unchanged."""
        assert self.augment is not None
        return Episode(
            self.augment(ep.support_x, gen), ep.support_y, self.augment(ep.query_x, gen), ep.query_y, ep.classes
        )

    def fixed(self, split: str, count: int) -> Iterator[Episode]:
        """Evaluation episodes: episode i of a split is the same for every run and every model."""
        for i in range(count):
            yield self.draw(split, torch.Generator().manual_seed(EVAL_SEEDS[split] * 1_000_003 + i))


# -- Omniglot ---------------------------------------------------------------------------------------


def decode_png(raw: bytes, size: int) -> np.ndarray:
    """An Omniglot PNG (black strokes on white, 105x105) -> (size, size) float32, strokes near 1."""
    from PIL import Image

    with Image.open(io.BytesIO(raw)) as im:
        im = im.convert("L").resize((size, size), Image.Resampling.BOX)
        return 1.0 - np.asarray(im, dtype=np.float32) / 255.0


def read_alphabets(path: Path, size: int) -> dict[str, list[np.ndarray]]:
    """``<set>/<alphabet>/<character>/<drawing>.png`` of one zip -> alphabet -> [(20, size, size) per character]."""
    chars: dict[tuple[str, str], list[tuple[str, np.ndarray]]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for name in sorted(zf.namelist()):
                parts = name.split("/")
                if len(parts) != 4 or not parts[3].lower().endswith(".png"):
                    continue
                chars.setdefault((parts[1], parts[2]), []).append((parts[3], decode_png(zf.read(name), size)))
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: not a readable Omniglot zip ({e})") from None
    if not chars:
        raise DataError(f"{path}: no <set>/<alphabet>/<character>/<drawing>.png images inside")
    out: dict[str, list[np.ndarray]] = {}
    for (alphabet, _), drawings in sorted(chars.items()):
        out.setdefault(alphabet, []).append(np.stack([a for _, a in sorted(drawings)]))
    return out


def _stack(chars: list[np.ndarray], first_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(np.concatenate(chars))[:, None]  # (M, 1, H, W)
    y = torch.cat([torch.full((len(c),), first_id + i, dtype=torch.long) for i, c in enumerate(chars)])
    return x, y


@register_dataset("omniglot", modality="fewshot")
def omniglot(
    *,
    background: Literal["small", "full"] = "small",
    val_alphabets: int = 1,
    test_alphabets: int = 2,
    split_seed: int = 0,
    rotations: bool = True,
    image_size: int = 28,
) -> FewShotData:
    """Omniglot, split by alphabet. ``small``: the two small background sets (10 alphabets, 292
    characters), val and test alphabets held out of them; ``full``: images_background.zip (30 alphabets;
    val held out of it) and images_evaluation.zip (20 alphabets, the test split; ``test_alphabets`` unused).
    """
    if background == "small":
        alphabets = {}
        for key in ("background_small1", "background_small2"):
            alphabets.update(read_alphabets(fetch(OMNIGLOT_FILES[key], folder=OMNIGLOT_FOLDER), image_size))
        names = sorted(alphabets)
        if test_alphabets < 1 or val_alphabets < 0 or val_alphabets + test_alphabets >= len(names):
            raise DataError(
                f"need test_alphabets >= 1, val_alphabets >= 0 and train alphabets left; there are {len(names)}"
            )
        order = torch.randperm(len(names), generator=torch.Generator().manual_seed(split_seed)).tolist()
        test = [names[i] for i in order[:test_alphabets]]
        val = [names[i] for i in order[test_alphabets : test_alphabets + val_alphabets]]
        train = [n for n in names if n not in test + val]
        note = f"alphabets {test} test, {val} val (split_seed={split_seed}), the other {len(train)} train"
        version = "omniglot-images_background_small1+2"
    else:
        alphabets = read_alphabets(fetch(OMNIGLOT_FILES["background"], folder=OMNIGLOT_FOLDER), image_size)
        evaluation = read_alphabets(fetch(OMNIGLOT_FILES["evaluation"], folder=OMNIGLOT_FOLDER), image_size)
        names = sorted(alphabets)
        order = torch.randperm(len(names), generator=torch.Generator().manual_seed(split_seed)).tolist()
        val = [names[i] for i in order[:val_alphabets]]
        train = [n for n in names if n not in val]
        test = sorted(evaluation)
        alphabets.update(evaluation)
        note = f"images_evaluation (20 alphabets) test, {val} val (split_seed={split_seed}), the rest train"
        version = "omniglot-images_background+evaluation"
    splits, pools, first = {}, {}, 0
    for split, names_ in (("train", train), ("val", val), ("test", test)):
        chars = [c for n in names_ for c in alphabets[n]]
        if not chars:
            splits[split] = None
            continue
        x, y = _stack(chars, first)
        first += len(chars)
        splits[split] = Split(x, y)
        groups = torch.tensor([i for i, n in enumerate(names_) for _ in alphabets[n]])  # (C,) alphabet per class
        rot = 4 if rotations and split == "train" else 1
        pools[split] = ClassPool(x, y - int(y.min()), rotations=rot, groups=groups)
    info = DataInfo(
        name="omniglot",
        version=version,
        task="classify",
        input_shape=(1, image_size, image_size),
        num_classes=pools["train"].num_classes,
        class_names=None,
        splits={k: len(v) for k, v in splits.items() if v is not None},
        split_note=note + ("; train classes x4 rotations (0/90/180/270)" if rotations else ""),
        input_range=(0.0, 1.0),
    )
    return FewShotData(splits["train"], splits["val"], splits["test"], info, pools)


_RUN_LINE = re.compile(r"^\s*(\S+)\s+(\S+)\s*$")


def omniglot_one_shot_runs(*, image_size: int = 28) -> list[Episode]:
    """Lake et al. 2015's 20 one-shot 20-way runs (``all_runs.zip``): per run one image of 20 characters
    of one evaluation alphabet (support, labels 0..19) and 20 other drawings of them (queries)."""
    path = fetch(OMNIGLOT_FILES["runs"], folder=OMNIGLOT_FOLDER)
    runs = []
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for r in range(1, 21):
            lines = zf.read(f"run{r:02d}/class_labels.txt").decode().splitlines()
            pairs = [m.groups() for m in map(_RUN_LINE.match, lines) if m]  # (test image, its training image)
            train_names = sorted({t for _, t in pairs})
            sx = [decode_png(zf.read(t), image_size) for t in train_names]
            qx = [decode_png(zf.read(q), image_size) for q, _ in pairs]
            qy = [train_names.index(t) for _, t in pairs]
            if not all(q in names for q, _ in pairs):
                raise DataError(f"{path}: run{r:02d} lists images that are not in the zip")
            runs.append(
                Episode(
                    torch.from_numpy(np.stack(sx))[:, None],
                    torch.arange(len(sx)),
                    torch.from_numpy(np.stack(qx))[:, None],
                    torch.tensor(qy),
                    torch.arange(len(sx)),
                )
            )
    return runs


@register_dataset("omniglot_synthetic", modality="fewshot")
def omniglot_synthetic(
    *, num_classes: int = 60, per_class: int = 20, image_size: int = 28, strokes: int = 3, seed: int = 0
) -> FewShotData:
    """Generated stroke characters (no files): a class is ``strokes`` random line segments, its drawings
    that template shifted by up to 2 pixels with 5% of pixels flipped. Classes 60/20/20% train/val/test."""
    gen = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for c in range(num_classes):
        template = torch.zeros(image_size, image_size)
        for _ in range(strokes):
            a, b = torch.rand(2, 2, generator=gen) * (image_size - 6) + 3  # end points (2,) each
            t = torch.linspace(0, 1, 3 * image_size)[:, None]
            pts = (a + t * (b - a)).round().long().clamp(0, image_size - 1)  # (P, 2)
            template[pts[:, 0], pts[:, 1]] = 1.0
        for _ in range(per_class):
            dy, dx = torch.randint(-2, 3, (2,), generator=gen).tolist()
            img = torch.roll(template, (dy, dx), dims=(0, 1))
            flip = torch.rand(image_size, image_size, generator=gen) < 0.05
            images.append(torch.where(flip, 1.0 - img, img))
            labels.append(c)
    x, y = torch.stack(images)[:, None], torch.tensor(labels)
    n_train, n_val = int(0.6 * num_classes), int(0.2 * num_classes)
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, num_classes)}
    splits, pools = {}, {}
    for split, (lo, hi) in bounds.items():
        keep = (y >= lo) & (y < hi)
        splits[split] = Split(x[keep], y[keep])
        pools[split] = ClassPool(x[keep], y[keep] - lo)
    info = DataInfo(
        name="omniglot_synthetic",
        version=f"generated-strokes-seed{seed}",
        task="classify",
        input_shape=(1, image_size, image_size),
        num_classes=pools["train"].num_classes,
        class_names=None,
        splits={k: len(v) for k, v in splits.items()},
        split_note=f"classes {bounds} (train/val/test), disjoint",
        input_range=(0.0, 1.0),
    )
    return FewShotData(splits["train"], splits["val"], splits["test"], info, pools)


@register_dataset("sinusoid", modality="fewshot")
def sinusoid(
    *,
    amplitude_min: float = 0.1,
    amplitude_max: float = 5.0,
    phase_max: float = math.pi,
    x_min: float = -5.0,
    x_max: float = 5.0,
    points: int = 100,
) -> FewShotData:
    """Finn et al. 2017's sinusoid regression tasks; the splits hold ``points`` inputs of one task
    (A=1, phi=0: example inputs); the episodes are new tasks drawn by the episode sampler."""
    tasks = SinusoidTasks((amplitude_min, amplitude_max), (0.0, phase_max), (x_min, x_max))
    gen = torch.Generator().manual_seed(0)
    splits = {}
    for split in ("train", "val", "test"):
        x = tasks.inputs(points, gen)
        splits[split] = Split(x, torch.sin(x).squeeze(-1))
    info = DataInfo(
        name="sinusoid",
        version="finn2017-sinusoid",
        task="regress",
        input_shape=(1,),
        num_classes=None,
        class_names=None,
        splits={k: len(v) for k, v in splits.items()},
        split_note=f"tasks drawn per episode: A ~ U[{amplitude_min:g}, {amplitude_max:g}], "
        f"phi ~ U[0, {phase_max:.4g}], x ~ U[{x_min:g}, {x_max:g}]",
        input_range=None,
    )
    pools = {s: tasks for s in splits}
    return FewShotData(splits["train"], splits["val"], splits["test"], info, pools)
