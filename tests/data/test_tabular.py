"""The dataset registry's checks, and the scikit-learn tabular sets and their splits."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.datasets
import torch
from sklearn.model_selection import train_test_split

from dlzoo.data import DataError, dataset_params, list_datasets, load_dataset

# name -> (scikit-learn loader, n_features, n_classes or None for regression, n_samples)
EXPECTED = {
    "digits": (sklearn.datasets.load_digits, 64, 10, 1797),
    "iris": (sklearn.datasets.load_iris, 4, 3, 150),
    "wine": (sklearn.datasets.load_wine, 13, 3, 178),
    "breast_cancer": (sklearn.datasets.load_breast_cancer, 30, 2, 569),
    "diabetes": (sklearn.datasets.load_diabetes, 10, None, 442),
}


# ---------------------------------------------------------------------------- registry


def test_tabular_registry_lists_all() -> None:
    assert list_datasets("tabular") == sorted(EXPECTED)
    assert set(EXPECTED) <= set(list_datasets())


def test_unknown_dataset_lists_valid_names_sorted() -> None:
    with pytest.raises(DataError) as err:
        load_dataset("mnits")
    assert "'mnits'" in str(err.value)
    assert str(sorted(list_datasets())) in str(err.value)


def test_unknown_modality_lists_valid_ones() -> None:
    with pytest.raises(DataError, match="tabular"):
        list_datasets("audio")


def test_unknown_kwarg_names_it_and_lists_valid_keys() -> None:
    with pytest.raises(DataError) as err:
        load_dataset("digits", seed=1)
    assert "'seed'" in str(err.value)
    assert "['split_seed', 'test_size', 'val_size']" in str(err.value)


@pytest.mark.parametrize("key, value", [("split_seed", 1.5), ("split_seed", True), ("test_size", "a lot")])
def test_wrong_type_is_rejected(key: str, value: object) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("digits", **{key: value})
    assert key in str(err.value) and repr(value) in str(err.value)


def test_strings_are_parsed_like_a_command_line() -> None:
    assert load_dataset("iris", test_size="0.5", split_seed="3").info.splits == {"train": 75, "test": 75}


def test_dataset_params_gives_defaults() -> None:
    assert dataset_params("digits") == {"split_seed": 0, "test_size": 0.2, "val_size": 0.0}
    with pytest.raises(DataError, match="valid datasets"):
        dataset_params("nope")


#: every (x, y) tensor dataset that needs no files; graphs, text and seq2seq pairs have their own tests,
#: ucr and seq_mnist are tested on generated files in test_timeseries / test_sequences
TENSOR_DATASETS = [
    n
    for m in ("tabular", "images", "toy2d", "timeseries", "sequences")
    for n in list_datasets(m)
    if n not in ("ucr", "seq_mnist")
]


@pytest.mark.parametrize("name", TENSOR_DATASETS)
def test_every_dataset_matches_its_info(name: str, request: pytest.FixtureRequest) -> None:
    """Contract for every (x, y) tensor dataset: tensors agree with DataInfo (mnist on fake files)."""
    if name in ("mnist", "superres"):  # superres defaults to source="mnist"
        request.getfixturevalue("fake_mnist")  # tiny files, offline
        data = load_dataset(name, root=str(request.getfixturevalue("tmp_path")), val_size=10)
    else:
        data = load_dataset(name)
    info = data.info
    assert info.task in ("classify", "regress", "density")
    present = {"train": data.train, "val": data.val, "test": data.test}
    assert info.splits == {k: len(s) for k, s in present.items() if s is not None}
    for split in present.values():
        if split is None:
            continue
        assert split.x.dtype == torch.float32 and split.x.shape[1:] == info.input_shape
        assert torch.isfinite(split.x).all()
        if info.task == "classify":
            assert split.y.dtype == torch.int64 and split.y.min() >= 0 and split.y.max() < info.num_classes
            assert len(info.class_names) == info.num_classes
        elif info.task == "regress":
            assert split.y.dtype == torch.float32 and info.num_classes is None
        if split.y is not None:
            assert split.y.shape[0] == split.x.shape[0]


# ---------------------------------------------------------------------------- datasets


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shapes_types_and_info(name: str) -> None:
    _, n_features, n_classes, n_samples = EXPECTED[name]
    data = load_dataset(name)
    info = data.info
    assert info.name == name and info.version == f"sklearn-{sklearn.__version__}"
    assert info.input_shape == (n_features,)
    assert info.num_classes == n_classes
    assert data.val is None and set(info.splits) == {"train", "test"}
    assert info.splits["train"] + info.splits["test"] == n_samples
    assert info.splits["test"] == int(np.ceil(0.2 * n_samples))
    for split in (data.train, data.test):
        assert split.x.dtype == torch.float32 and split.x.shape[1:] == (n_features,)
        assert split.y is not None and split.y.shape == (split.x.shape[0],)
    if n_classes is None:
        assert info.task == "regress" and info.class_names is None
        assert data.train.y.dtype == torch.float32
    else:
        assert info.task == "classify" and len(info.class_names) == n_classes
        assert data.train.y.dtype == torch.int64
        assert set(data.train.y.tolist()) == set(range(n_classes))


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("split_seed", [0, 7])
def test_split_is_exactly_sklearns(name: str, split_seed: int) -> None:
    load, _, n_classes, _ = EXPECTED[name]
    x, y = load(return_X_y=True)
    stratify = y if n_classes else None
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=stratify, random_state=split_seed)
    data = load_dataset(name, split_seed=split_seed)
    # raw features, not standardized; the raw diabetes target
    torch.testing.assert_close(data.train.x, torch.from_numpy(x_tr).float())
    torch.testing.assert_close(data.test.x, torch.from_numpy(x_te).float())
    np.testing.assert_allclose(data.train.y.numpy(), y_tr, rtol=1e-6)
    np.testing.assert_allclose(data.test.y.numpy(), y_te, rtol=1e-6)


def test_val_split_is_stratified_fraction_of_train() -> None:
    data = load_dataset("digits", val_size=0.2)
    assert data.info.splits == {"train": 1149, "val": 288, "test": 360}
    assert data.val is not None and data.val.x.shape == (288, 64)
    assert "val" in data.info.split_note and "split_seed=0" in data.info.split_note
    train_counts = torch.bincount(data.train.y, minlength=10).float() / 1149
    val_counts = torch.bincount(data.val.y, minlength=10).float() / 288
    assert (train_counts - val_counts).abs().max() < 0.01  # stratified
    # train + val together are exactly the val_size=0 training set
    full = load_dataset("digits")
    joined = torch.cat([data.train.x, data.val.x])
    assert sorted(map(tuple, joined.tolist())) == sorted(map(tuple, full.train.x.tolist()))


@pytest.mark.parametrize("kwargs", [{"test_size": 0.0}, {"test_size": 1.0}, {"val_size": 1.0}, {"val_size": -0.1}])
def test_bad_fractions(kwargs: dict) -> None:
    with pytest.raises(DataError, match=next(iter(kwargs))):
        load_dataset("iris", **kwargs)
