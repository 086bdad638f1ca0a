"""Time-series loaders: UCR 2018 TSV and .ts files written on the fly, and the CBF generator.

Nothing here reads /work/shared or the network (the download test uses a file:// URL).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from dlzoo.data import DataError, load_dataset
from dlzoo.data import timeseries as ts


def write_tsv(root: Path, name: str, split: str, rows: list[tuple[str, list[float]]]) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{split}.tsv"
    path.write_text("".join(label + "\t" + "\t".join(repr(float(v)) for v in values) + "\n" for label, values in rows))
    return path


def write_ts(
    root: Path, name: str, split: str, cases: list[str], *, labels: str = "a b", extra_header: str = ""
) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{split}.ts"
    header = (
        f"# comment\n@problemName {name}\n@timeStamps false\n@missing true\n{extra_header}"
        f"@classLabel true {labels}\n@data\n"
    )
    path.write_text(header + "\n".join(cases) + "\n")
    return path


@pytest.fixture
def ecg_like(tmp_path: Path) -> Path:
    """A 2-class TSV dataset with labels -1 / 1 (as ECG200), 4 train / 3 test series of length 5."""
    rng = np.random.default_rng(0)
    write_tsv(tmp_path, "Toy", "TRAIN", [(lab, list(rng.normal(size=5) * 3 + 2)) for lab in ("1", "-1", "1", "-1")])
    write_tsv(tmp_path, "Toy", "TEST", [(lab, list(rng.normal(size=5))) for lab in ("-1", "1", "1")])
    return tmp_path


def test_tsv_shapes_labels_and_znorm(ecg_like: Path) -> None:
    data = load_dataset("ucr", dataset="Toy", root=str(ecg_like))
    assert data.train.x.shape == (4, 1, 5) and data.test.x.shape == (3, 1, 5)
    assert data.train.x.dtype == torch.float32 and data.train.y.dtype == torch.int64
    assert data.info.class_names == ("-1", "1")  # sorted numerically: -1 -> 0, 1 -> 1
    assert data.train.y.tolist() == [1, 0, 1, 0] and data.test.y.tolist() == [0, 1, 1]
    assert data.val is None and data.info.splits == {"train": 4, "test": 3}
    # z-normalised per series: mean 0, population std 1
    torch.testing.assert_close(data.train.x.mean(-1), torch.zeros(4, 1), atol=1e-6, rtol=0)
    torch.testing.assert_close(data.train.x.std(-1, unbiased=False), torch.ones(4, 1), atol=1e-5, rtol=0)
    raw = load_dataset("ucr", dataset="Toy", root=str(ecg_like), znorm=False)
    first = np.loadtxt(ecg_like / "Toy" / "Toy_TRAIN.tsv", delimiter="\t")[0, 1:]
    torch.testing.assert_close(raw.train.x[0, 0], torch.tensor(first, dtype=torch.float32))
    assert data.info.version.startswith("ucr-tsv/Toy/sha256:")


def test_string_and_float_labels_map_as_the_archive_defines(tmp_path: Path) -> None:
    write_tsv(tmp_path, "S", "TRAIN", [("b", [1, 2, 3]), ("a", [3, 2, 1]), ("c", [0, 1, 0])])
    write_tsv(tmp_path, "S", "TEST", [("c", [1, 1, 2])])
    data = load_dataset("ucr", dataset="S", root=str(tmp_path))
    assert data.info.class_names == ("a", "b", "c") and data.train.y.tolist() == [1, 0, 2]
    # "1.0" and "1" are one class; numbers sort numerically ("10" after "2")
    write_tsv(tmp_path, "N", "TRAIN", [("1.0", [1, 2, 3]), ("10", [3, 2, 1]), ("2", [0, 1, 0])])
    write_tsv(tmp_path, "N", "TEST", [("1", [1, 1, 2])])
    data = load_dataset("ucr", dataset="N", root=str(tmp_path))
    assert data.info.class_names == ("1", "2", "10") and data.train.y.tolist() == [0, 2, 1]
    assert data.test.y.tolist() == [0]


def test_missing_values_are_rejected_or_interpolated(tmp_path: Path) -> None:
    write_tsv(tmp_path, "M", "TRAIN", [("1", [1.0, float("nan"), 3.0, 5.0]), ("2", [1.0, 2.0, 3.0, 4.0])])
    write_tsv(tmp_path, "M", "TEST", [("1", [0.0, 1.0, 0.0, 1.0])])
    with pytest.raises(DataError, match=r"M_TRAIN\.tsv: case 1 has missing values \(NaN\); pass missing=fill"):
        load_dataset("ucr", dataset="M", root=str(tmp_path))
    data = load_dataset("ucr", dataset="M", root=str(tmp_path), missing="fill", znorm=False)
    torch.testing.assert_close(data.train.x[0, 0], torch.tensor([1.0, 2.0, 3.0, 5.0]))  # linear interpolation


def test_unequal_lengths_are_rejected_or_padded(tmp_path: Path) -> None:
    # the 2018 TSV pads shorter series with trailing NaN; a line may also simply be shorter
    write_tsv(tmp_path, "U", "TRAIN", [("1", [1.0, 2.0, 3.0, float("nan")]), ("2", [4.0, 3.0, 2.0, 1.0])])
    write_tsv(tmp_path, "U", "TEST", [("1", [1.0, 2.0])])
    with pytest.raises(DataError, match=r"U_TRAIN\.tsv: case 1 has length 3, others 4: .*unequal lengths"):
        load_dataset("ucr", dataset="U", root=str(tmp_path))
    data = load_dataset("ucr", dataset="U", root=str(tmp_path), missing="fill")
    assert data.train.x.shape == (2, 1, 4)
    z = torch.tensor([-1.0, 0.0, 1.0]) / torch.tensor([2 / 3]).sqrt()  # z-normalised over the observed 3 values
    torch.testing.assert_close(data.train.x[0, 0], torch.cat([z, torch.zeros(1)]))
    torch.testing.assert_close(data.test.x[0, 0], torch.tensor([-1.0, 1.0, 0.0, 0.0]))


def test_malformed_tsv_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "Bad"
    folder.mkdir()
    (folder / "Bad_TRAIN.tsv").write_text("1\t0.5\t0.25\n2\t0.1\t0.2\n1\t0.3\tabc\n")
    (folder / "Bad_TEST.tsv").write_text("1\t0.5\t0.25\n")
    with pytest.raises(DataError, match=r"Bad_TRAIN\.tsv:3: field 3: 'abc' is not a number"):
        load_dataset("ucr", dataset="Bad", root=str(tmp_path))
    (folder / "Bad_TRAIN.tsv").write_text("1\t0.5\n2\n")
    with pytest.raises(DataError, match=r"Bad_TRAIN\.tsv:2: expected a label and at least one value"):
        load_dataset("ucr", dataset="Bad", root=str(tmp_path))
    (folder / "Bad_TRAIN.tsv").write_text("")
    with pytest.raises(DataError, match=r"Bad_TRAIN\.tsv: no series found"):
        load_dataset("ucr", dataset="Bad", root=str(tmp_path))


def test_ts_format_univariate_multivariate_and_missing(tmp_path: Path) -> None:
    write_ts(tmp_path, "T", "TRAIN", ["1,2,3,4:a", "4,3,2,1:b", "1,?,3,4:a"])
    write_ts(tmp_path, "T", "TEST", ["0,1,0,1:b"])
    with pytest.raises(DataError, match=r"T_TRAIN\.ts: case 3 has missing values"):
        load_dataset("ucr", dataset="T", root=str(tmp_path))
    data = load_dataset("ucr", dataset="T", root=str(tmp_path), missing="fill", znorm=False, format="ts")
    assert data.train.x.shape == (3, 1, 4) and data.info.class_names == ("a", "b")
    torch.testing.assert_close(data.train.x[2, 0], torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert data.info.version.startswith("ucr-ts/T/")
    # two dimensions -> two channels
    write_ts(tmp_path, "MV", "TRAIN", ["1,2,3:4,5,6:x", "3,2,1:6,5,4:y"], labels="x y")
    write_ts(tmp_path, "MV", "TEST", ["1,1,1:2,2,2:y"], labels="x y")
    data = load_dataset("ucr", dataset="MV", root=str(tmp_path), znorm=False)
    assert data.train.x.shape == (2, 2, 3)
    torch.testing.assert_close(data.train.x[0], torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))


@pytest.mark.parametrize(
    ("cases", "header", "expected"),
    [
        (["1,2,3:a", "1,2,3:z"], "", r"Q_TRAIN\.ts:8: class label 'z' is not among those declared"),
        (["1,2,3:a", "1,2,3:4,5,6:b"], "", r"Q_TRAIN\.ts:8: case has 2 dimensions, earlier cases have 1"),
        (["1,2,x:a"], "", r"Q_TRAIN\.ts:7: field 3: 'x' is not a number"),
        (["1,2,3:a"], "@timestamps true\n", r"Q_TRAIN\.ts:\d+: '@timestamps true' is not supported"),
    ],
)
def test_malformed_ts_names_file_and_line(tmp_path: Path, cases: list[str], header: str, expected: str) -> None:
    write_ts(tmp_path, "Q", "TRAIN", cases, extra_header=header)
    write_ts(tmp_path, "Q", "TEST", ["1,2,3:a"])
    with pytest.raises(DataError, match=expected):
        load_dataset("ucr", dataset="Q", root=str(tmp_path))


def test_bad_options_and_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown format 'csv'; valid formats: \['auto', 'tsv', 'ts'\]"):
        load_dataset("ucr", dataset="X", root=str(tmp_path), format="csv")
    with pytest.raises(DataError, match=r"valid: \['error', 'fill'\]"):
        load_dataset("ucr", dataset="X", root=str(tmp_path), missing="zero")
    with pytest.raises(DataError, match=r"UCR dataset 'Nope' not found: expected .*Nope/Nope_TRAIN\.tsv"):
        load_dataset("ucr", dataset="Nope", root=str(tmp_path))


def test_download_extracts_ts_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    write_ts(src, "Web", "TRAIN", ["1,2,3:a", "3,2,1:b"])
    write_ts(src, "Web", "TEST", ["1,2,2:b"])
    with zipfile.ZipFile(tmp_path / "Web.zip", "w") as z:
        for split in ("TRAIN", "TEST"):
            z.write(src / "Web" / f"Web_{split}.ts", f"Web/Web_{split}.ts")
    monkeypatch.setattr(ts, "UCR_URL", "file://" + str(tmp_path / "{name}.zip"))
    monkeypatch.delenv("DLZOO_OFFLINE")
    root = tmp_path / "root"
    data = load_dataset("ucr", dataset="Web", root=str(root))
    assert (root / "Web" / "Web_TRAIN.ts").is_file() and data.train.x.shape == (2, 1, 3)
    with pytest.raises(DataError, match=r"UCR dataset 'Gone': download of .*Gone\.zip failed"):
        load_dataset("ucr", dataset="Gone", root=str(root))


def test_cbf_shapes_balance_and_determinism() -> None:
    a, b = load_dataset("cbf", seed=3), load_dataset("cbf", seed=3)
    assert a.train.x.shape == (30, 1, 128) and a.test.x.shape == (900, 1, 128)
    assert a.test.y.bincount().tolist() == [300, 300, 300] and a.info.class_names == ("cylinder", "bell", "funnel")
    torch.testing.assert_close(a.train.x, b.train.x)
    assert not torch.equal(a.train.x, load_dataset("cbf", seed=4).train.x)


def test_cbf_follows_saito_shapes() -> None:
    # inside [a, b] for every draw (a <= 32, b >= 48): cylinder = 6 + eta on average 6; the bell rises
    # from a (small at t = 40), the funnel falls from 6 + eta at a (large at t = 40)
    x, y = ts.cbf_series(3000, length=128, generator=np.random.default_rng(0))
    mean = np.stack([x[y == k].mean(axis=0) for k in range(3)])  # (3, 128)
    assert abs(mean[0, 39] - 6.0) < 0.3
    assert mean[1, 39] < 2.5 and mean[2, 39] > 4.0
    assert abs(mean[:, :10].mean()) < 0.1  # before a: noise only
