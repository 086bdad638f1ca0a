"""The synthetic seq2seq datasets: correct targets, seeded, held-out sources never in training."""

from __future__ import annotations

import pytest

from dlzoo.data import DataError, list_datasets, load_dataset

SMALL = {"n_train": 300, "n_val": 20, "n_test": 40}


def test_registered_as_seq2seq_pairs() -> None:
    assert set(list_datasets("seq2seq")) >= {"copy", "reverse", "sort", "addition"}


@pytest.mark.parametrize(
    "name, check",
    [
        ("copy", lambda s, t: t == s),
        ("reverse", lambda s, t: t == s[::-1]),
        ("sort", lambda s, t: t == "".join(sorted(s))),
        ("addition", lambda s, t: int(t) == sum(int(p) for p in s.split("+"))),
    ],
)
def test_targets_are_right_and_held_out_sources_unseen(name: str, check) -> None:
    data = load_dataset(name, **SMALL)
    for part in (data.train, data.val, data.test):
        assert all(check(s, t) for s, t in zip(part.src, part.tgt, strict=True))
        assert all(
            len(s) <= data.max_src_len and len(t) <= data.max_tgt_len for s, t in zip(part.src, part.tgt, strict=True)
        )
        assert set("".join(part.src) + "".join(part.tgt)) <= set(data.alphabet)
    assert (len(data.train), len(data.val), len(data.test)) == (300, 20, 40)
    held = set(data.val.src) | set(data.test.src)
    assert len(held) == 60, "val and test sources are distinct"
    assert not held & set(data.train.src), "a held-out source appears in training"
    assert data.info.task == "seq2seq" and data.info.splits == {"train": 300, "val": 20, "test": 40}


def test_seeded() -> None:
    a, b, c = (load_dataset("addition", seed=s, **SMALL) for s in (0, 0, 1))
    assert a.train.src == b.train.src and a.test.src == b.test.src
    assert a.train.src != c.train.src


def test_sort_matches_mingpt_demo() -> None:
    data = load_dataset("sort")
    assert data.alphabet == "012" and {len(s) for s in data.train.src} == {6}
    assert len(set(data.train.src)) <= 3**6 - 200  # 729 possible inputs, 200 held out


def test_every_length_is_trained_on() -> None:
    """Short lengths have few distinct sources; at most half of them are held out."""
    data = load_dataset("copy", min_length=1, max_length=4, n_symbols=3, n_train=2000, n_val=10, n_test=30)
    assert {len(s) for s in data.train.src} == {1, 2, 3, 4}


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("sort", {"n_test": 400}, "at most"),
        ("copy", {"min_length": 5, "max_length": 3}, "min_length"),
        ("reverse", {"n_symbols": 11}, "n_symbols"),
        ("addition", {"digits": 0}, "digits"),
        ("copy", {"n_train": 0}, "n_train"),
    ],
)
def test_bad_arguments_are_one_clear_error(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_dataset(name, **kwargs)
