"""Synthetic sequence-to-sequence tasks generated from a seed: copy, reverse, sort, addition.

No files: each loader draws its examples from ``torch.Generator().manual_seed(seed)``, so the same
arguments give the same splits on every machine. Examples are strings; a character is one token
(``alphabet`` lists them), and the model family's tokenizer turns them into ids.

- ``copy``:     "31415" -> "31415"
- ``reverse``:  "31415" -> "51413"
- ``sort``:     "201120" -> "001122"  (minGPT's demo: 6 numbers from {0, 1, 2}, Karpathy 2020)
- ``addition``: "123+989" -> "1112"   (operands uniform in [0, 10^digits), written without leading zeros)

Held-out sources are never seen in training: the val and test sources are drawn first (distinct, at
most half of the sources of any one length), then training sources are drawn with those removed
(training may repeat a source, as minGPT's does).

Shapes:
    SeqData.train / val / test: SeqPairs(src: list[str], tgt: list[str]) of N examples each
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dlzoo.data.base import DataError, DataInfo, register_dataset

DIGITS = "0123456789"
VERSION = "dlzoo-seqtasks-1"


@dataclass(frozen=True)
class SeqPairs:
    """Source and target strings of one split (same length N)."""

    src: list[str]
    tgt: list[str]

    def __len__(self) -> int:
        return len(self.src)


@dataclass
class SeqData:
    """Train / val / test string pairs, the alphabet they use and the longest possible strings."""

    train: SeqPairs
    val: SeqPairs | None
    test: SeqPairs
    info: DataInfo  # task "seq2seq"; input_shape = (max_src_len,)
    alphabet: str  # every character a source or target may hold, in vocabulary order
    max_src_len: int  # longest source the task can produce (not just the longest drawn)
    max_tgt_len: int  # longest target, without <bos>/<eos>


def _check_sizes(name: str, *, n_train: int, n_val: int, n_test: int, holdable: int) -> None:
    if n_train < 1 or n_test < 1 or n_val < 0:
        raise DataError(
            f"dataset {name!r}: n_train and n_test must be >= 1 and n_val >= 0, "
            f"got n_train={n_train}, n_val={n_val}, n_test={n_test}"
        )
    if n_val + n_test > holdable:
        raise DataError(
            f"dataset {name!r}: n_val + n_test = {n_val + n_test} held-out sources, but at most "
            f"{holdable} can be held out (half of each length's distinct sources); lower n_val/n_test"
        )


def _draw_split(draw, bucket, *, n_train: int, n_val: int, n_test: int, g: torch.Generator) -> tuple[list, list, list]:
    """Held-out distinct keys first, then n_train keys drawn with the held-out ones rejected.

    ``draw(n, g)`` returns n random keys (hashable tuples); ``bucket(key)`` returns (bucket, its number of
    distinct keys), e.g. the source length: at most half of a bucket is held out, so training still
    sees every length. Returns (train, val, test) key lists.
    """
    held: dict = {}  # insertion-ordered set
    per_bucket: dict = {}
    while len(held) < n_val + n_test:
        for k in draw(2 * (n_val + n_test - len(held)) + 16, g):
            b, size = bucket(k)
            if len(held) < n_val + n_test and k not in held and per_bucket.get(b, 0) < max(1, size // 2):
                held[k] = None
                per_bucket[b] = per_bucket.get(b, 0) + 1
    keys = list(held)
    val, test = keys[:n_val], keys[n_val:]
    train: list = []
    while len(train) < n_train:
        train.extend(k for k in draw(n_train - len(train) + 16, g) if k not in held)
    return train[:n_train], val, test


def _sequences(*, n_symbols: int, min_length: int, max_length: int):
    def draw(n: int, g: torch.Generator) -> list[tuple[int, ...]]:
        lengths = torch.randint(min_length, max_length + 1, (n,), generator=g).tolist()
        symbols = torch.randint(0, n_symbols, (n, max_length), generator=g).tolist()
        return [tuple(row[:length]) for row, length in zip(symbols, lengths, strict=True)]

    return draw


def _symbolic_task(
    name: str,
    transform,
    *,
    min_length: int,
    max_length: int,
    n_symbols: int,
    n_train: int,
    n_val: int,
    n_test: int,
    seed: int,
) -> SeqData:
    if not 1 <= n_symbols <= 10:
        raise DataError(f"dataset {name!r}: n_symbols must be in 1..10 (digits), got {n_symbols}")
    if not 1 <= min_length <= max_length:
        raise DataError(f"dataset {name!r}: need 1 <= min_length <= max_length, got {min_length}, {max_length}")
    holdable = sum(max(1, n_symbols**k // 2) for k in range(min_length, max_length + 1))
    _check_sizes(name, n_train=n_train, n_val=n_val, n_test=n_test, holdable=holdable)
    g = torch.Generator().manual_seed(seed)
    parts = _draw_split(
        _sequences(n_symbols=n_symbols, min_length=min_length, max_length=max_length),
        lambda k: (len(k), n_symbols ** len(k)),
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        g=g,
    )

    def pairs(keys: list[tuple[int, ...]]) -> SeqPairs:
        src = ["".join(DIGITS[s] for s in k) for k in keys]
        return SeqPairs(src=src, tgt=[transform(s) for s in src])

    train, val, test = (pairs(p) for p in parts)
    note = (
        f"sources of {min_length}..{max_length} symbols from {DIGITS[:n_symbols]!r}, seed={seed}; "
        f"val/test sources distinct and never in train"
    )
    return _pack(
        name,
        train,
        val if n_val else None,
        test,
        alphabet=DIGITS[:n_symbols],
        max_src_len=max_length,
        max_tgt_len=max_length,
        note=note,
        params=f"n{n_symbols}-len{min_length}-{max_length}-seed{seed}",
    )


def _pack(
    name: str,
    train: SeqPairs,
    val: SeqPairs | None,
    test: SeqPairs,
    *,
    alphabet: str,
    max_src_len: int,
    max_tgt_len: int,
    note: str,
    params: str,
) -> SeqData:
    splits = {"train": len(train), **({"val": len(val)} if val is not None else {}), "test": len(test)}
    info = DataInfo(
        name=name,
        version=f"{VERSION}:{params}",
        task="seq2seq",
        input_shape=(max_src_len,),
        num_classes=None,
        class_names=None,
        splits=splits,
        split_note=note,
    )
    return SeqData(train, val, test, info, alphabet, max_src_len, max_tgt_len)


@register_dataset("copy", modality="seq2seq")
def copy_task(
    *,
    min_length: int = 1,
    max_length: int = 10,
    n_symbols: int = 10,
    n_train: int = 20000,
    n_val: int = 500,
    n_test: int = 1000,
    seed: int = 0,
) -> SeqData:
    """Copy the source: "31415" -> "31415"."""
    return _symbolic_task(
        "copy",
        lambda s: s,
        min_length=min_length,
        max_length=max_length,
        n_symbols=n_symbols,
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        seed=seed,
    )


@register_dataset("reverse", modality="seq2seq")
def reverse_task(
    *,
    min_length: int = 1,
    max_length: int = 10,
    n_symbols: int = 10,
    n_train: int = 20000,
    n_val: int = 500,
    n_test: int = 1000,
    seed: int = 0,
) -> SeqData:
    """Reverse the source: "31415" -> "51413"."""
    return _symbolic_task(
        "reverse",
        lambda s: s[::-1],
        min_length=min_length,
        max_length=max_length,
        n_symbols=n_symbols,
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        seed=seed,
    )


@register_dataset("sort", modality="seq2seq")
def sort_task(
    *,
    min_length: int = 6,
    max_length: int = 6,
    n_symbols: int = 3,
    n_train: int = 10000,
    n_val: int = 100,
    n_test: int = 100,
    seed: int = 0,
) -> SeqData:
    """Sort the source ascending: "201120" -> "001122" (minGPT's demo: 6 numbers from {0, 1, 2})."""
    return _symbolic_task(
        "sort",
        lambda s: "".join(sorted(s)),
        min_length=min_length,
        max_length=max_length,
        n_symbols=n_symbols,
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        seed=seed,
    )


@register_dataset("addition", modality="seq2seq")
def addition_task(
    *, digits: int = 3, n_train: int = 50000, n_val: int = 500, n_test: int = 1000, seed: int = 0
) -> SeqData:
    """Add two numbers: "123+989" -> "1112"; operands uniform in [0, 10^digits), no leading zeros."""
    if not 1 <= digits <= 9:
        raise DataError(f"dataset 'addition': digits must be in 1..9, got {digits}")
    top = 10**digits
    _check_sizes("addition", n_train=n_train, n_val=n_val, n_test=n_test, holdable=top * top // 2)

    def draw(n: int, g: torch.Generator) -> list[tuple[int, int]]:
        ab = torch.randint(0, top, (n, 2), generator=g).tolist()
        return [(a, b) for a, b in ab]

    parts = _draw_split(
        draw,
        lambda k: (0, top * top),
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        g=torch.Generator().manual_seed(seed),
    )

    def pairs(keys: list[tuple[int, int]]) -> SeqPairs:
        return SeqPairs(src=[f"{a}+{b}" for a, b in keys], tgt=[str(a + b) for a, b in keys])

    train, val, test = (pairs(p) for p in parts)
    note = f"operands uniform in [0, {top}), seed={seed}; val/test operand pairs distinct and never in train"
    return _pack(
        "addition",
        train,
        val if n_val else None,
        test,
        alphabet=DIGITS + "+",
        max_src_len=2 * digits + 1,
        max_tgt_len=digits + 1,
        note=note,
        params=f"digits{digits}-seed{seed}",
    )
