# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Datasets: `Dataset`, `IterableDataset`, `DataLoader`, samplers, and the canonical files by hand
#
# PyTorch splits data loading into three roles. A **dataset** says what one example is
# (`Dataset.__getitem__(i)`) or how to stream them (`IterableDataset.__iter__`). A **sampler** decides
# which indices come in which order. The **`DataLoader`** asks the sampler for indices, fetches the
# examples (in worker processes if asked), and **collates** them into batches. This notebook builds
# each piece, then writes two canonical file formats byte by byte (MNIST's IDX and the UCR archive's
# TSV), parses them by hand, and checks the round trip against dlzoo's loaders.
#
# Everything is generated here or comes from scikit-learn's bundled digits: no download.

# %%
import gzip
import math
import os
import struct
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    WeightedRandomSampler,
    get_worker_info,
)

_ = torch.manual_seed(0)
WORKDIR = Path(tempfile.mkdtemp(prefix="datasets-"))  # the files written below go here
# worker processes: forked on Linux, where classes defined in a notebook need no pickling
WORKERS, MP_CONTEXT = (2, "fork") if sys.platform == "linux" else (0, None)
print("workers:", WORKERS, "| files in", WORKDIR)

# %% [markdown]
# ## A map-style `Dataset`
#
# Two methods: `__len__` and `__getitem__(i)` returning one example. Per-example work (decoding,
# augmentation, normalisation) goes in `__getitem__`, so it runs in the workers. Here: the 8x8 digits,
# scaled to [0, 1], with an optional transform.


# %%
class Digits(Dataset):
    def __init__(self, transform=None):
        bunch = load_digits()
        self.images = torch.tensor(bunch.images, dtype=torch.float32) / 16.0  # (N, 8, 8) in [0, 1]
        self.labels = torch.tensor(bunch.target, dtype=torch.int64)  # (N,)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i].unsqueeze(0)  # (1, 8, 8): channels first
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[i]


def add_noise(x):
    return (x + 0.05 * torch.randn_like(x)).clamp(0, 1)


digits = Digits()
x0, y0 = digits[0]
print(len(digits), "examples; one is", tuple(x0.shape), x0.dtype, "label", y0.item())
loader = DataLoader(digits, batch_size=32, shuffle=True)
xb, yb = next(iter(loader))
print("a batch:", tuple(xb.shape), tuple(yb.shape))
assert xb.shape == (32, 1, 8, 8) and yb.shape == (32,)
assert len(loader) == math.ceil(len(digits) / 32)  # the last batch is partial (drop_last=False)

# %% [markdown]
# ### Workers
#
# With `num_workers=k` the loader starts k processes, each with a copy of the dataset, and hands them
# batches of indices; the main process receives collated batches in order. Each worker gets its own
# random seed (`torch.initial_seed()` differs), so random transforms differ between workers.
# Workers pay off when `__getitem__` is expensive; for cheap in-memory examples the inter-process
# transfer and the start-up of the processes dominate. Below, an artificially slow dataset (a fixed
# sleep per example, printed below), loaded with and without workers.


# %%
class Slow(Dataset):
    def __init__(self, n, delay_s):
        self.n, self.delay_s = n, delay_s

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.delay_s)  # stands for decoding a JPEG, reading a file...
        return torch.tensor([i, torch.initial_seed() % 1000])


def load_all(loader):
    t0 = time.perf_counter()
    rows = torch.cat(list(loader))
    return rows, time.perf_counter() - t0


slow = Slow(300, 3e-3)
rows0, t_main = load_all(DataLoader(slow, batch_size=20))
kwargs = {"multiprocessing_context": MP_CONTEXT} if WORKERS else {}
rows2, t_workers = load_all(DataLoader(slow, batch_size=20, num_workers=WORKERS, **kwargs))
print(
    f"{len(slow)} examples, {slow.delay_s * 1e3:.0f} ms each: main process {t_main:.2f} s, "
    f"{WORKERS} workers {t_workers:.2f} s (including their start-up)"
)
print("worker seeds seen (mod 1000):", sorted(set(rows2[:, 1].tolist())))
assert torch.equal(rows0[:, 0], rows2[:, 0])  # same examples, same order, whatever the number of workers

# %% [markdown]
# ## An `IterableDataset`
#
# For streams (a file read line by line, a generator, a database cursor) there is no `__getitem__`,
# only `__iter__`. The catch: with k workers, each worker runs its own copy of `__iter__`, so a naive
# stream is yielded k times. The fix is to shard inside `__iter__` with `get_worker_info()`: worker w
# of k takes every k-th item. Both versions are run below with the worker count printed above.


# %%
class Stream(IterableDataset):
    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        start, step = (info.id, info.num_workers) if (self.shard and info is not None) else (0, 1)
        for i in range(start, self.n, step):
            yield torch.tensor(i)


def stream_items(ds):
    kw = {"num_workers": WORKERS, **kwargs}
    return sorted(torch.cat([b.reshape(-1) for b in DataLoader(ds, batch_size=8, **kw)]).tolist())


naive, sharded = stream_items(Stream(40, shard=False)), stream_items(Stream(40, shard=True))
print(f"naive stream: {len(naive)} items for 40 ({len(set(naive))} distinct); sharded: {len(sharded)} items")
assert sharded == list(range(40))
assert len(naive) == 40 * max(WORKERS, 1)

# %% [markdown]
# ## Collating variable-length sequences
#
# The default `collate_fn` stacks examples, which needs equal shapes. Sequences of different lengths
# need a collate function that **pads** them to the longest in the batch and returns the **lengths**,
# so the model can ignore the padding. `pad_sequence` pads; `pack_padded_sequence` tells an RNN
# where each sequence ends, so its final state is that of the last real step, not of the padding.
#
# The data: random walks of random length (the range is printed below), labelled by whether they end
# above their start.


# %%
class Walks(Dataset):
    def __init__(self, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        lengths = torch.randint(3, 31, (n,), generator=g)
        self.seqs = [torch.randn(int(n_), 1, generator=g).cumsum(0) for n_ in lengths]  # (L_i, 1) each
        self.labels = [int(s[-1, 0] > 0) for s in self.seqs]

    def __len__(self):
        return len(self.seqs)

    def __getitem__(self, i):
        return self.seqs[i], self.labels[i]


def pad_collate(batch):
    """[(seq (L_i, F), label)] -> padded (B, L_max, F), lengths (B,), labels (B,)."""
    seqs, labels = zip(*batch, strict=True)
    lengths = torch.tensor([len(s) for s in seqs])
    padded = pad_sequence(seqs, batch_first=True, padding_value=0.0)  # (B, L_max, F)
    return padded, lengths, torch.tensor(labels)


walks = Walks(256)
print(f"{len(walks)} walks, lengths {min(len(s) for s in walks.seqs)} to {max(len(s) for s in walks.seqs)}")
padded, lengths, labels = next(iter(DataLoader(walks, batch_size=6, collate_fn=pad_collate)))
print("padded", tuple(padded.shape), "lengths", lengths.tolist(), "labels", labels.tolist())
assert padded.shape[1] == lengths.max() and all(padded[i, n:].abs().sum() == 0 for i, n in enumerate(lengths))

# %% [markdown]
# Why the lengths matter: a GRU run over the padded batch keeps updating its state through the zeros;
# run over the packed batch it stops at each sequence's end, and its final state equals running every
# sequence alone.

# %%
gru = nn.GRU(input_size=1, hidden_size=8, batch_first=True)
with torch.no_grad():
    _, h_packed = gru(pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False))
    _, h_padded = gru(padded)
    h_alone = torch.stack([gru(walks[i][0][None])[1][0, 0] for i in range(6)])  # (6, 8)
print(f"final state, packed vs one at a time: {(h_packed[0] - h_alone).abs().max():.1e}")
print(f"final state, padded vs one at a time: {(h_padded[0] - h_alone).abs().max():.1e}")
assert torch.allclose(h_packed[0], h_alone, atol=1e-6)
assert not torch.allclose(h_padded[0], h_alone, atol=1e-3)

# %% [markdown]
# ## Samplers
#
# `shuffle=False` means a `SequentialSampler` (0, 1, 2, ...), `shuffle=True` a `RandomSampler` (a
# permutation per epoch, reproducible with a seeded `generator`). A `WeightedRandomSampler` draws
# indices with probability proportional to a weight, with replacement: weighting each example by the
# inverse frequency of its class balances an imbalanced set. A `batch_sampler` yields whole batches of
# indices; below, one that groups sequences of similar length to cut the padding.

# %%
assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
assert list(RandomSampler(range(10), generator=g1)) == list(RandomSampler(range(10), generator=g2))
print("BatchSampler:", list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False)))

# an imbalanced subset of digits: all 0s, a tenth of the 1s
targets = digits.labels
keep = torch.cat([torch.nonzero(targets == 0).flatten(), torch.nonzero(targets == 1).flatten()[::10]])
imbalanced = torch.utils.data.Subset(digits, keep.tolist())
sub_labels = targets[keep]
counts = torch.bincount(sub_labels, minlength=2)
weights = (1.0 / counts.float())[sub_labels]  # each example: 1 / (size of its class)
sampler = WeightedRandomSampler(weights, num_samples=4000, replacement=True, generator=torch.Generator().manual_seed(0))
drawn = Counter(sub_labels[list(sampler)].tolist())
share_before = counts[1].item() / counts.sum().item()
share_after = drawn[1] / sum(drawn.values())
print(
    f"class counts {counts.tolist()}: share of 1s {share_before:.3f}; drawn by the weighted sampler {share_after:.3f}"
)
assert abs(share_after - 0.5) < 0.03


# %%
class BucketBatchSampler(Sampler):
    """Batches of similar length: shuffle, cut into chunks of `bucket` batches, sort each chunk by
    length, batch it, and shuffle the batches (random, but little padding)."""

    def __init__(self, lengths, batch_size, bucket=8, seed=0):
        self.lengths, self.batch_size, self.bucket, self.seed = lengths, batch_size, bucket, seed

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(self.lengths), generator=g).tolist()
        chunk = self.batch_size * self.bucket
        batches = []
        for s in range(0, len(order), chunk):
            part = sorted(order[s : s + chunk], key=lambda i: self.lengths[i])
            batches += [part[j : j + self.batch_size] for j in range(0, len(part), self.batch_size)]
        return iter([batches[i] for i in torch.randperm(len(batches), generator=g).tolist()])

    def __len__(self):
        return math.ceil(len(self.lengths) / self.batch_size)


def padding_share(loader):
    """Fraction of the padded batch entries that are padding."""
    real = total = 0
    for padded, lengths, _ in loader:
        real += lengths.sum().item()
        total += padded.shape[0] * padded.shape[1]
    return 1 - real / total


walk_lengths = [len(s) for s in walks.seqs]
random_loader = DataLoader(walks, batch_size=16, shuffle=True, collate_fn=pad_collate)
bucket_loader = DataLoader(walks, batch_sampler=BucketBatchSampler(walk_lengths, 16), collate_fn=pad_collate)
pad_random, pad_bucket = padding_share(random_loader), padding_share(bucket_loader)
seen = sorted(i for batch in BucketBatchSampler(walk_lengths, 16) for i in batch)
print(f"padding: random batches {pad_random:.1%}, length-bucketed batches {pad_bucket:.1%}")
assert seen == list(range(len(walks)))  # every example exactly once per epoch
assert pad_bucket < pad_random / 2

# %% [markdown]
# ## The IDX format (MNIST) by hand
#
# An IDX file is a header and a raw array. The header: two zero bytes, one byte for the element type
# (`0x08` = unsigned byte), one byte for the number of dimensions d, then d sizes as big-endian 32-bit
# unsigned integers; the data follow in row-major order. Read as one big-endian integer, the first four
# bytes are the "magic number": 2051 (`0x00000803`) for MNIST's image files (uint8, 3 dims), 2049
# (`0x00000801`) for its label files (uint8, 1 dim). MNIST ships them gzipped.
#
# Below: the digits written as an IDX image file and an IDX label file, gzipped, then read back by a
# parser of a few lines, and by dlzoo's `read_idx`.

# %%
IDX_UBYTE = 0x08


def write_idx(path: Path, array: np.ndarray) -> None:
    """uint8 array of any rank -> (gzipped, if the name ends in .gz) IDX file."""
    assert array.dtype == np.uint8
    header = struct.pack(">BBBB", 0, 0, IDX_UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.tobytes(order="C")
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


def parse_idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip's magic bytes
        raw = gzip.decompress(raw)
    zero1, zero2, dtype_code, ndim = struct.unpack(">BBBB", raw[:4])
    assert zero1 == zero2 == 0 and dtype_code == IDX_UBYTE, raw[:4].hex()
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    assert data.size == math.prod(shape), "truncated or padded file"
    return data.reshape(shape)


images_u8 = np.round(load_digits().images * 255 / 16).astype(np.uint8)  # (1797, 8, 8) grey levels 0..255
labels_u8 = load_digits().target.astype(np.uint8)  # (1797,)
img_path, lbl_path = WORKDIR / "digits-images-idx3-ubyte.gz", WORKDIR / "digits-labels-idx1-ubyte.gz"
write_idx(img_path, images_u8)
write_idx(lbl_path, labels_u8)

raw_head = gzip.decompress(img_path.read_bytes())[:16]
magic = int.from_bytes(raw_head[:4], "big")
label_magic = int.from_bytes(gzip.decompress(lbl_path.read_bytes())[:4], "big")
print("first 16 bytes of the image file:", raw_head.hex(" ", 4), "| magic", magic, "| label file magic", label_magic)
back_images, back_labels = parse_idx(img_path), parse_idx(lbl_path)
print("parsed:", back_images.shape, back_images.dtype, back_labels.shape)
assert magic == 2051 and label_magic == 2049
assert np.array_equal(back_images, images_u8) and np.array_equal(back_labels, labels_u8)

# %% [markdown]
# dlzoo reads the same format with `dlzoo.data.images.read_idx` (which also checks the magic number
# and the length and names the file in its errors); it must agree with the parser above.

# %%
from dlzoo.data.base import DataError  # noqa: E402
from dlzoo.data.images import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx  # noqa: E402

assert np.array_equal(read_idx(img_path, magic=IDX_IMAGES_MAGIC), images_u8)
assert np.array_equal(read_idx(lbl_path, magic=IDX_LABELS_MAGIC), labels_u8)
truncated = WORKDIR / "truncated-idx3-ubyte"
truncated.write_bytes(gzip.decompress(img_path.read_bytes())[:-10])
try:
    read_idx(truncated)
except DataError as e:
    print("dlzoo on a truncated file:", str(e).split(": ", 1)[1])

# the real MNIST test labels, when DLZOO_DATA holds them (skipped offline)
real = Path(os.environ.get("DLZOO_DATA", "/nonexistent")) / "MNIST" / "t10k-labels-idx1-ubyte.gz"
if real.is_file():
    mnist_labels = parse_idx(real)
    assert np.array_equal(mnist_labels, read_idx(real, magic=IDX_LABELS_MAGIC))
    print("real MNIST test labels:", mnist_labels.shape, "first ten", mnist_labels[:10].tolist())

# %% [markdown]
# ## The UCR TSV format by hand
#
# The 2018 UCR archive ships each dataset as `<Name>/<Name>_TRAIN.tsv` and `_TEST.tsv`: one series per
# line, the class label first, then the values, tab-separated, no header. Series shorter than the
# longest are padded with `NaN` at the end. Below: a small two-class set (noisy sines against noisy
# squares, with some series shortened), written, parsed by hand, and read by dlzoo's `read_ucr_tsv`
# and its `ucr` loader.


# %%
def make_series(n, length, rng):
    t = np.linspace(0, 4 * np.pi, length)
    labels = rng.integers(1, 3, n)  # UCR labels are often 1..K
    series = [(np.sin(t) if c == 1 else np.sign(np.sin(t))) + 0.1 * rng.standard_normal(length) for c in labels]
    series = [s[: rng.integers(length // 2, length + 1)] if i % 3 == 0 else s for i, s in enumerate(series)]
    return series, labels


def write_ucr_tsv(path: Path, series, labels, length):
    lines = []
    for s, c in zip(series, labels, strict=True):
        padded = list(s) + [float("nan")] * (length - len(s))
        lines.append("\t".join([str(c)] + [repr(float(v)) if v == v else "NaN" for v in padded]))
    path.write_text("\n".join(lines) + "\n")


def parse_ucr_tsv(path: Path):
    series, labels = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        label, *values = line.split("\t")
        v = np.array([float(x) for x in values])  # float("NaN") parses
        n = len(v)
        while n and np.isnan(v[n - 1]):  # trailing NaN: the series was shorter
            n -= 1
        series.append(v[:n])
        labels.append(label)
    return series, labels


rng = np.random.default_rng(0)
LENGTH = 60
folder = WORKDIR / "UCRArchive_2018" / "SineSquare"
folder.mkdir(parents=True)
parts = {split: make_series(n, LENGTH, rng) for split, n in (("TRAIN", 20), ("TEST", 30))}
for split, (series, labels) in parts.items():
    write_ucr_tsv(folder / f"SineSquare_{split}.tsv", series, labels, LENGTH)
first_line = (folder / "SineSquare_TRAIN.tsv").read_text().splitlines()[0]
print("first line:", first_line[:70], "...")

series, labels = parse_ucr_tsv(folder / "SineSquare_TRAIN.tsv")
want_series, want_labels = parts["TRAIN"]
print(
    "parsed", len(series), "series; lengths", sorted({len(s) for s in series})[:5], "...; labels", sorted(set(labels))
)
assert [int(c) for c in labels] == list(want_labels)
assert all(np.array_equal(a, b) for a, b in zip(series, want_series, strict=True))  # repr() round-trips floats

# %%
from dlzoo.data.timeseries import read_ucr_tsv, ucr  # noqa: E402

dl_series, dl_labels = read_ucr_tsv(folder / "SineSquare_TRAIN.tsv")  # [(1, L_i)], [label strings]
assert dl_labels == labels and all(np.array_equal(a[0], b) for a, b in zip(dl_series, series, strict=True))

data = ucr(dataset="SineSquare", root=str(WORKDIR / "UCRArchive_2018"), missing="fill", download=False)
print("dlzoo ucr():", tuple(data.train.x.shape), tuple(data.test.x.shape), "classes", data.info.class_names)
# dlzoo z-normalises each series and pads shorter ones with zeros at the end; redo that by hand
first = series[0]
by_hand = np.zeros(LENGTH, dtype=np.float32)
by_hand[: len(first)] = (first - first.mean()) / first.std()
gap = np.abs(data.train.x[0, 0].numpy() - by_hand).max()
print(f"first training series, dlzoo vs by hand: max difference {gap:.1e}")
assert data.train.x.shape == (20, 1, LENGTH) and data.test.x.shape == (30, 1, LENGTH)
assert torch.equal(data.train.y + 1, torch.tensor(want_labels))  # labels 1, 2 -> classes 0, 1
assert gap < 1e-6
