"""Character-level text datasets: one token stream per split, and the vocabulary that maps it back.

- ``tinyshakespeare``: Karpathy's Tiny Shakespeare (``<data root>/tinyshakespeare/input.txt``,
  1,115,394 characters, 65 distinct), split as nanoGPT's ``shakespeare_char/prepare.py`` does:
  the vocabulary is the sorted set of characters of the whole file, the first 90% is train and the
  last 10% val. nanoGPT has no test split; with ``test_fraction=0`` the ``test`` split *is* the val
  split (so ``eval.json``'s test/* numbers are the val numbers nanoGPT reports).
- ``text_file``: the same for any UTF-8 text file (``data.path=...``).
- ``toy_text``: sentences from a small seeded grammar, generated in memory: no file, for tests and
  tiny presets.

A loader returns :class:`TextData` (train / val / test int64 id streams + ``vocab``); the language
paradigm (``tasks/language.py``) cuts random blocks out of the streams.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

from dlzoo.data.base import DataError, DataInfo, register_dataset
from dlzoo.data.download import Resource, fetch

TINYSHAKESPEARE = Resource(
    "input.txt",
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
)
TINYSHAKESPEARE_FOLDER = "tinyshakespeare"


class CharTokenizer:
    """Characters <-> ids; ``vocab[i]`` is the character of id i (sorted, as nanoGPT's ``itos``)."""

    def __init__(self, vocab: str) -> None:
        if not vocab or len(set(vocab)) != len(vocab):
            raise ValueError("vocab must be a non-empty string of distinct characters")
        self.vocab = vocab
        self.stoi = {ch: i for i, ch in enumerate(vocab)}

    def __len__(self) -> int:
        return len(self.vocab)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` that are not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(ch for ch in text if ch not in self.stoi))

    def encode(self, text: str) -> torch.Tensor:
        """str -> (len,) int64 ids; ValueError listing the characters outside the vocabulary."""
        bad = self.unknown(text)
        if bad:
            raise ValueError(
                f"characters not in the vocabulary: {''.join(bad)!r} ({len(bad)} distinct); "
                f"the vocabulary is {self.vocab!r}"
            )
        return torch.tensor([self.stoi[ch] for ch in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        return "".join(self.vocab[int(i)] for i in ids)


@dataclass
class TextData:
    """Token streams (int64 ids, 1-D) per split, the vocabulary, and the usual DataInfo."""

    train: torch.Tensor  # (N_train,)
    val: torch.Tensor  # (N_val,)
    test: torch.Tensor  # (N_test,); the val stream when the dataset has no test split
    vocab: str  # id -> character
    info: DataInfo


def char_splits(
    text: str, *, name: str, version: str, val_fraction: float, test_fraction: float, source: str
) -> TextData:
    """Vocabulary = sorted characters of the whole text; contiguous splits train | val | test."""
    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DataError(
            f"{name}: need 0 < val_fraction < 1, 0 <= test_fraction and a sum below 1, "
            f"got val_fraction={val_fraction}, test_fraction={test_fraction}"
        )
    vocab = "".join(sorted(set(text)))
    tok = CharTokenizer(vocab) if vocab else None
    n = len(text)
    n_train = int(n * (1 - val_fraction - test_fraction))
    n_val_end = int(n * (1 - test_fraction)) if test_fraction > 0 else n
    if tok is None or n_train < 2 or n_val_end - n_train < 2 or (test_fraction > 0 and n - n_val_end < 2):
        raise DataError(
            f"{source}: {n} characters are too few to split into train/val/test "
            f"(val_fraction={val_fraction}, test_fraction={test_fraction})"
        )
    ids = tok.encode(text)  # (n,)
    train, val = ids[:n_train], ids[n_train:n_val_end]
    test = ids[n_val_end:] if test_fraction > 0 else val
    note = f"contiguous: first {n_train} characters train, next {len(val)} val" + (
        f", last {len(test)} test" if test_fraction > 0 else "; no test split: test = val (as nanoGPT)"
    )
    info = DataInfo(
        name=name,
        version=version,
        task="density",
        input_shape=(),
        num_classes=len(vocab),
        class_names=None,
        splits={"train": len(train), "val": len(val), "test": len(test)},
        split_note=note,
    )
    return TextData(train=train, val=val, test=test, vocab=vocab, info=info)


def read_text(path: Path, *, encoding: str = "utf-8") -> str:
    """The whole file as text; DataError naming the file and the first undecodable byte."""
    if not path.is_file():
        raise DataError(f"text file {path} does not exist (expected a {encoding} text file)")
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}, byte {e.start}: not valid {encoding} ({e.reason})") from None
    except LookupError:
        raise DataError(f"unknown text encoding {encoding!r} (e.g. utf-8, latin-1)") from None


@register_dataset("tinyshakespeare", modality="text")
def tinyshakespeare(*, val_fraction: float = 0.1, test_fraction: float = 0.0) -> TextData:
    """Tiny Shakespeare, characters, nanoGPT's split (first 90% train, last 10% val)."""
    path = fetch(TINYSHAKESPEARE, folder=TINYSHAKESPEARE_FOLDER)
    return char_splits(
        read_text(path),
        name="tinyshakespeare",
        version="char-rnn-input.txt-sha256:86c4e6aa",
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        source=str(path),
    )


@register_dataset("text_file", modality="text")
def text_file(
    *, path: str = "", val_fraction: float = 0.1, test_fraction: float = 0.0, encoding: str = "utf-8"
) -> TextData:
    """Any text file, characters: vocabulary from the whole file, contiguous splits."""
    if not path:
        raise DataError("text_file needs data.path=<a text file>")
    p = Path(path).expanduser()
    return char_splits(
        read_text(p, encoding=encoding),
        name="text_file",
        version=f"file:{p.name}",
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        source=str(p),
    )


_SUBJECTS = ("the king", "the queen", "a knight", "my lord", "the old man", "a young maid", "the fool")
_VERBS = ("loves", "sees", "fears", "serves", "follows", "calls", "forgets")
_OBJECTS = ("the crown", "his sword", "her brother", "the sea", "a red rose", "the night", "our cause")
_ENDINGS = (".", "!", "?", ", and so it goes.")


def toy_sentences(n_chars: int, seed: int) -> str:
    """Lines 'SPEAKER:\\n<subject> <verb> <object><ending>' from a seeded grammar, ~n_chars long."""
    rng = random.Random(seed)
    lines: list[str] = []
    size = 0
    while size < n_chars:
        speaker = rng.choice(_SUBJECTS).split()[-1].upper()
        line = (
            f"{speaker}:\n{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_ENDINGS)}\n\n"
        )
        lines.append(line)
        size += len(line)
    return "".join(lines)


@register_dataset("toy_text", modality="text")
def toy_text(*, n_chars: int = 50_000, seed: int = 0, val_fraction: float = 0.1) -> TextData:
    """Generated sentences from a seeded toy grammar (no file): for tests and tiny presets."""
    if n_chars < 100:
        raise DataError(f"toy_text: n_chars must be at least 100, got {n_chars}")
    return char_splits(
        toy_sentences(n_chars, seed),
        name="toy_text",
        version=f"toy-grammar-v1-seed{seed}",
        val_fraction=val_fraction,
        test_fraction=0.0,
        source="toy_text",
    )
