"""Image datasets: MNIST from the original IDX files, and scikit-learn's 8x8 digits as images.

MNIST (LeCun, Cortes, Burges) is read from the four published gzip IDX files in
``<data root>/MNIST/`` (see :mod:`dlzoo.data.download`; ``DLZOO_DATA=/path`` with
``/path/MNIST/train-images-idx3-ubyte.gz`` etc. works offline). The files and their sha256 are the
module-level dict :data:`MNIST_FILES`, looked up at load time; tests that write their own tiny IDX
files replace its entries (``monkeypatch.setitem(images.MNIST_FILES, "train_images", Resource(...))``).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import sklearn.datasets
import torch

from dlzoo.data.base import DataError, DataInfo, Split, TensorData, register_dataset
from dlzoo.data.download import Resource, fetch
from dlzoo.data.tabular import SKLEARN_VERSION, split_arrays

MNIST_FOLDER = "MNIST"
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MNIST_MIRROR = "http://yann.lecun.com/exdb/mnist/"


def _mnist_resource(filename: str, sha256: str) -> Resource:
    return Resource(filename, _MNIST_URL + filename, sha256, mirrors=(_MNIST_MIRROR + filename,))


MNIST_FILES: dict[str, Resource] = {
    "train_images": _mnist_resource(
        "train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train_labels": _mnist_resource(
        "train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "test_images": _mnist_resource(
        "t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "test_labels": _mnist_resource(
        "t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}

# IDX type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dims (N, rows, cols)
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dim (N,)
BINARIZE_MODES = ("none", "threshold", "stochastic")


def read_idx(path: Path | str, *, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or plain) into an array of the shape its header gives.

    Header: two zero bytes, a type byte (0x08 = uint8, ...), a byte with the number of dims d, then
    d big-endian uint32 sizes; the data follow, row-major. ``magic`` (e.g. 2051 for MNIST images,
    2049 for labels) is the first 4 bytes read as a big-endian int, checked when given.

    Raises:
        DataError: naming the file, when it is not gzip-readable, the header is malformed, the
            magic number is not the expected one, or the data are truncated or too long.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file (header {raw[:4].hex() or 'empty'}; expected 00 00 <type> <ndim>"
            f" with type in {[hex(t) for t in IDX_DTYPES]})"
        )
    found_magic = int.from_bytes(raw[:4], "big")
    if magic is not None and found_magic != magic:
        raise DataError(f"{path}: IDX magic number {found_magic}, expected {magic}")
    dtype, ndim = np.dtype(IDX_DTYPES[raw[2]]), raw[3]
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, header needs {header_len})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_len + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(f"{path}: IDX file {what}: shape {shape} needs {expected} bytes, file has {len(raw)}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":  # not gzip: a plain IDX file
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip file ({e})") from e


def _read_mnist_split(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) uint8 labels from a pair of IDX files, checked."""
    x = read_idx(images, magic=IDX_IMAGES_MAGIC)
    y = read_idx(labels, magic=IDX_LABELS_MAGIC)
    if x.shape[1:] != (28, 28) or len(x) != len(y):
        raise DataError(f"{images} has shape {x.shape} and {labels} {y.shape}; expected (N, 28, 28) and (N,)")
    if y.size and y.max() > 9:
        raise DataError(f"{labels}: labels must be digits 0..9, found {y.max()}")
    return x, y


@register_dataset("mnist", modality="images")
def mnist(
    *,
    flatten: bool = False,
    binarize: str = "none",
    binarize_seed: int = 0,
    val_size: int = 0,
    limit: int | None = None,
    root: str | None = None,
) -> TensorData:
    """MNIST handwritten digits, 60000 train / 10000 test as published, x in [0, 1].

    Args:
        flatten: x of shape (N, 784) instead of (N, 1, 28, 28).
        binarize: "none" (grey levels / 255), "threshold" (x > 0.5), or "stochastic": one Bernoulli
            sample of the grey levels drawn once with a generator seeded by ``binarize_seed``
            (train first, then test), so the binary data are fixed for a given seed.
        binarize_seed: seed of the "stochastic" binarization.
        val_size: the last ``val_size`` of the 60000 training images are held out as val (e.g. 10000).
        limit: keep only the first ``limit`` samples of each split (fast tests).
        root: data root instead of ``$DLZOO_DATA`` / ``~/.cache/dlzoo``.

    Shapes:
        x: (N, 1, 28, 28) or (N, 784) float32; y: (N,) int64 in 0..9
    """
    if binarize not in BINARIZE_MODES:
        raise DataError(f"unknown binarize mode {binarize!r}; valid modes: {list(BINARIZE_MODES)}")
    if limit is not None and limit < 1:
        raise DataError(f"limit must be >= 1 or None, got {limit}")
    paths = {k: fetch(r, folder=MNIST_FOLDER, root=Path(root) if root else None) for k, r in MNIST_FILES.items()}
    x_tr, y_tr = _read_mnist_split(paths["train_images"], paths["train_labels"])  # (60000, 28, 28)
    x_te, y_te = _read_mnist_split(paths["test_images"], paths["test_labels"])  # (10000, 28, 28)
    if not 0 <= val_size < len(x_tr):
        raise DataError(f"val_size must be in [0, {len(x_tr)}) (number of training images), got {val_size}")

    x_tr, x_te = _to_unit(x_tr, x_te, binarize, binarize_seed)  # float32 in [0, 1]
    shape = (784,) if flatten else (1, 28, 28)
    n_fit = len(x_tr) - val_size
    parts = {"train": (x_tr[:n_fit], y_tr[:n_fit]), "val": (x_tr[n_fit:], y_tr[n_fit:]), "test": (x_te, y_te)}
    if not val_size:
        del parts["val"]
    splits = {
        k: Split(x=x[:limit].reshape(-1, *shape).clone(), y=torch.from_numpy(y[:limit].astype(np.int64)))
        for k, (x, y) in parts.items()
    }  # clone: a limited split must not keep the full arrays alive
    note = f"published {len(x_tr)}/{len(x_te)} train/test split"
    note += f"; val = last {val_size} training images" if val_size else ""
    note += f"; first {limit} of each split kept" if limit is not None else ""
    version = "mnist-idx-lecun" + ("" if binarize == "none" else f"/binarize={binarize}")
    version += f",seed={binarize_seed}" if binarize == "stochastic" else ""
    info = DataInfo(
        name="mnist",
        version=version,
        task="classify",
        input_shape=shape,
        num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        splits={k: len(s) for k, s in splits.items()},
        split_note=note,
        input_range=(0.0, 1.0),
    )
    return TensorData(train=splits["train"], val=splits.get("val"), test=splits["test"], info=info)


def _to_unit(x_tr: np.ndarray, x_te: np.ndarray, binarize: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 grey levels -> float32 in [0, 1], binarized as asked; (N, 28, 28) each."""
    xs = [torch.from_numpy(x).float() / 255.0 for x in (x_tr, x_te)]
    if binarize == "threshold":
        xs = [(x > 0.5).float() for x in xs]
    elif binarize == "stochastic":
        generator = torch.Generator().manual_seed(seed)
        xs = [torch.bernoulli(x, generator=generator) for x in xs]  # train drawn first, then test
    return xs[0], xs[1]


@register_dataset("digits_images", modality="images")
def digits_images(
    *, split_seed: int = 0, test_size: float = 0.2, val_size: float = 0.0, binarize: str = "none"
) -> TensorData:
    """scikit-learn's 8x8 digits as images in [0, 1] (pixel counts / 16), split exactly like the
    tabular ``digits`` (stratified ``train_test_split``, same params). ``binarize``: "none", or
    "threshold" (x > 0.5: binary images for Boltzmann machines and Hopfield networks).

    Shapes:
        x: (N, 1, 8, 8) float32; y: (N,) int64 in 0..9
    """
    bunch = sklearn.datasets.load_digits()
    if binarize not in ("none", "threshold"):
        raise DataError(f"unknown binarize mode {binarize!r} for digits_images; valid modes: ['none', 'threshold']")
    x = (bunch.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)  # (1797, 1, 8, 8)
    if binarize == "threshold":
        x = (x > 0.5).astype(np.float32)
    y = bunch.target.astype(np.int64)  # (1797,)
    parts, note = split_arrays(x, y, stratify=True, split_seed=split_seed, test_size=test_size, val_size=val_size)
    splits = {k: Split(x=torch.from_numpy(xs), y=torch.from_numpy(ys)) for k, (xs, ys) in parts.items()}
    info = DataInfo(
        name="digits_images",
        version=SKLEARN_VERSION + ("" if binarize == "none" else f"/binarize={binarize}"),
        task="classify",
        input_shape=(1, 8, 8),
        num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        splits={k: len(s) for k, s in splits.items()},
        split_note=note,
        input_range=(0.0, 1.0),
    )
    return TensorData(train=splits["train"], val=splits.get("val"), test=splits["test"], info=info)
