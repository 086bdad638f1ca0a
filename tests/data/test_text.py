"""Character-level text loaders: nanoGPT's split and vocabulary, files made here, errors that name them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from dlzoo.data import DataError, Resource, load_dataset
from dlzoo.data import text as text_module
from dlzoo.data.text import CharTokenizer

SAMPLE = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 20


@pytest.fixture
def shakespeare_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small input.txt under DLZOO_DATA/tinyshakespeare/, registered with its own sha256."""
    folder = tmp_path / "tinyshakespeare"
    folder.mkdir()
    path = folder / "input.txt"
    path.write_text(SAMPLE)
    monkeypatch.setenv("DLZOO_DATA", str(tmp_path))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(text_module, "TINYSHAKESPEARE", Resource("input.txt", "https://invalid.example/input.txt", sha))
    return path


def test_tinyshakespeare_splits_like_nanogpt(shakespeare_file: Path) -> None:
    data = load_dataset("tinyshakespeare")
    n = len(SAMPLE)
    assert data.vocab == "".join(sorted(set(SAMPLE)))  # nanoGPT: chars = sorted(list(set(data)))
    assert len(data.train) == int(n * 0.9) and len(data.val) == n - int(n * 0.9)  # first 90% | last 10%
    tok = CharTokenizer(data.vocab)
    assert tok.decode(data.train) + tok.decode(data.val) == SAMPLE
    assert data.train.dtype == torch.long and torch.equal(data.test, data.val)  # no test split: test = val
    assert data.info.num_classes == len(data.vocab) and "test = val" in data.info.split_note


def test_tinyshakespeare_with_a_test_split(shakespeare_file: Path) -> None:
    data = load_dataset("tinyshakespeare", val_fraction=0.1, test_fraction=0.1)
    assert len(data.train) + len(data.val) + len(data.test) == len(SAMPLE)
    tok = CharTokenizer(data.vocab)
    assert tok.decode(torch.cat([data.train, data.val, data.test])) == SAMPLE  # contiguous, in order
    assert len(data.test) == len(SAMPLE) - int(len(SAMPLE) * 0.9)


def test_wrong_file_is_refused_by_its_checksum(shakespeare_file: Path) -> None:
    shakespeare_file.write_text(SAMPLE + "tampered")
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_dataset("tinyshakespeare")


def test_missing_file_offline_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLZOO_DATA", str(tmp_path))
    with pytest.raises(DataError, match="tinyshakespeare/input.txt"):
        load_dataset("tinyshakespeare")


def test_text_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text("abcabcabd\n" * 10)
    data = load_dataset("text_file", path=str(path))
    assert data.vocab == "\nabcd" and len(data.train) == 90
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("text_file", path=str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match="needs data.path"):
        load_dataset("text_file")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"line one\nline two \xff\xfe\n")
    with pytest.raises(DataError, match=r"bad.txt: line 2, byte 18: not valid utf-8"):
        load_dataset("text_file", path=str(bad))
    short = tmp_path / "short.txt"
    short.write_text("abc")
    with pytest.raises(DataError, match="too few"):
        load_dataset("text_file", path=str(short))
    with pytest.raises(DataError, match="val_fraction"):
        load_dataset("text_file", path=str(path), val_fraction=0.0)


def test_toy_text_is_generated_and_seeded() -> None:
    a, b = load_dataset("toy_text", n_chars=2000), load_dataset("toy_text", n_chars=2000)
    c = load_dataset("toy_text", n_chars=2000, seed=1)
    assert torch.equal(a.train, b.train) and not torch.equal(a.train[:500], c.train[:500])
    assert len(a.train) + len(a.val) >= 2000 and "KING:" in CharTokenizer(a.vocab).decode(a.train) + "KING:"


def test_tokenizer_round_trip_and_unknown_characters() -> None:
    tok = CharTokenizer("\n abc")
    ids = tok.encode("ab c\n")
    assert ids.tolist() == [2, 3, 1, 4, 0] and tok.decode(ids) == "ab c\n"
    assert tok.unknown("abXcYX") == ["X", "Y"]
    with pytest.raises(ValueError, match="not in the vocabulary: 'XY'"):
        tok.encode("aXbY")
    with pytest.raises(ValueError, match="distinct"):
        CharTokenizer("aa")
