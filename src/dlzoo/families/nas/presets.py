"""The registered cell network: a found genotype trains, serves and exports like any model."""

from __future__ import annotations

from dlzoo.families.nas.cell import CellNetwork
from dlzoo.registry import register_model

#: conv 3x3, conv 1x1, conv 3x3: 0.90 test accuracy on digits under the tiny preset in a hand check
#: (the exhaustive table, benchmarks/nas_tabular.py --build, has not been built yet to pick the best)
DEFAULT_GENOTYPE = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|"
#: what every cell of the digits table was trained with (benchmarks/nas_tabular.py builds the table)
TABLE_TRAIN = {"epochs": 5, "batch_size": 64, "lr": 5e-3, "log_every": 5}


@register_model(
    family="nas",
    task="classify",
    paradigm="supervised",
    presets={
        # seconds: scikit-learn's 8x8 digits, > 0.9 test accuracy
        "tiny": {
            "model": {"genotype": DEFAULT_GENOTYPE, "channels": 8},
            "data": {"name": "digits_images", "val_size": 0.2},
            "train": {"epochs": 10, "batch_size": 32, "lr": 1e-2, "log_every": 10},
        },
        # the protocol of the tabular benchmark: one cell of 16 channels, 5 epochs of Adam (lr 5e-3)
        "default": {
            "model": {"genotype": DEFAULT_GENOTYPE, "channels": 16},
            "data": {"name": "digits_images", "val_size": 0.2},
            "train": TABLE_TRAIN,
        },
    },
)
def nas_cell(
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    genotype: str = DEFAULT_GENOTYPE,
    channels: int = 16,
    cells: int = 1,
) -> CellNetwork:
    """A NAS-Bench-201-style cell network: stem conv, stacked cells of one genotype, GAP, linear.

    Args:
        input_shape: image shape (C, H, W); filled from the data when unset.
        num_classes: number of classes (logits of the head); filled from the data when unset.
        genotype: the cell, NAS-Bench-201 notation, e.g. ``|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|``;
            ops: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
        channels: feature maps inside the cells.
        cells: how many copies of the cell are stacked.
    """
    return CellNetwork(
        genotype=genotype, input_shape=input_shape, num_classes=num_classes, channels=channels, cells=cells
    )
