"""Datasets as tensors: a registry of loaders, each returning train / val / test splits.

    from dlzoo.data import list_datasets, load_dataset
    list_datasets("tabular")              # ['breast_cancer', 'diabetes', 'digits', 'iris', 'wine']
    data = load_dataset("digits", val_size=0.2)
    data.train.x.shape, data.info.splits  # (1149, 64), {'test': 360, 'val': 288, 'train': 1149}

Modalities: "tabular" (scikit-learn bundled sets), "images" (MNIST IDX, 8x8 digits), "toy2d"
(2-D densities). Files that must be downloaded live under ``$DLZOO_DATA`` or ``~/.cache/dlzoo``.
"""

from dlzoo.data.base import (
    DataError,
    DataInfo,
    Split,
    TensorData,
    dataset_modality,
    dataset_params,
    list_datasets,
    load_dataset,
    register_dataset,
)
from dlzoo.data.download import Resource, data_root, fetch

# imported for their @register_dataset side effect
from dlzoo.data import images, tabular, toy2d  # noqa: E402,F401  isort: skip
from dlzoo.data import timeseries  # noqa: E402,F401  isort: skip
from dlzoo.data import seqtasks  # noqa: E402,F401  isort: skip
from dlzoo.data import sequences  # noqa: E402,F401  isort: skip
from dlzoo.data import text  # noqa: E402,F401  isort: skip
from dlzoo.data import graphs  # noqa: E402,F401  isort: skip
from dlzoo.data import superres  # noqa: E402,F401  isort: skip
from dlzoo.data import fewshot  # noqa: E402,F401  isort: skip

__all__ = [
    "DataError",
    "DataInfo",
    "Resource",
    "Split",
    "TensorData",
    "data_root",
    "dataset_modality",
    "dataset_params",
    "fetch",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]
