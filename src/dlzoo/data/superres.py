"""Single-image super-resolution pairs made from an image dataset: x = the image downscaled, y = the image.

    y = the source image                                  (N, C, H, W) in [0, 1]
    x = area-average(y, factor) = avg_pool2d(y, factor)   (N, C, H/f, W/f) in [0, 1]

Area averaging (each low-resolution pixel is the mean of an f x f block) is the downscaling that
``F.interpolate(mode="area")`` and most SR benchmarks' "box" kernels use; it keeps [0, 1] and needs
``factor`` to divide the image size. The target y is stored flattened, (N, C*H*W), so the supervised
paradigm's regression metrics (mse, mae, r2 per pixel) take it as they come; ``DataInfo.input_shape``
is x's shape and the model's output is reshaped to y by the deconv objective.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlzoo.data.base import DataError, DataInfo, Split, TensorData, register_dataset

SOURCES = ("mnist", "digits_images")


def downscale(y: torch.Tensor, factor: int) -> torch.Tensor:
    """Area-average downscaling: (N, C, H, W) -> (N, C, H/f, W/f), each pixel the mean of an f x f block."""
    return F.avg_pool2d(y, factor)


def _load_source(source: str, *, limit: int | None, val_size: float, split_seed: int, root: str | None) -> TensorData:
    from dlzoo.data import load_dataset

    if source == "mnist":
        val = int(round(val_size * 60000)) if 0 < val_size < 1 else int(val_size)
        if val != val_size and val_size >= 1:
            raise DataError(f"superres: val_size for mnist is a fraction in [0, 1) or a whole count, got {val_size}")
        return load_dataset("mnist", val_size=val, limit=limit, root=root)
    if val_size >= 1:
        raise DataError(f"superres: val_size for digits_images is a fraction in [0, 1), got {val_size}")
    data = load_dataset("digits_images", val_size=val_size, split_seed=split_seed)
    if limit is not None:
        data.train, data.test = Split(data.train.x[:limit], None), Split(data.test.x[:limit], None)
        data.val = Split(data.val.x[:limit], None) if data.val is not None else None
    return data


@register_dataset("superres", modality="images")
def superres(
    *,
    source: str = "mnist",
    factor: int = 2,
    limit: int | None = None,
    val_size: float = 0.0,
    split_seed: int = 0,
    root: str | None = None,
) -> TensorData:
    """Low-resolution / high-resolution image pairs for super-resolution, x and y in [0, 1].

    Args:
        source: "mnist" (28x28; factors 2, 4, 7, 14) or "digits_images" (scikit-learn's 8x8 digits,
            offline; factors 2, 4, 8).
        factor: upscaling factor f >= 2; it must divide the image height and width.
        limit: keep only the first ``limit`` images of each split.
        val_size: training images held out as val: a fraction in [0, 1), or for mnist a count.
        split_seed: digits_images only: seed of its stratified split.
        root: mnist only: data root instead of ``$DLZOO_DATA`` / ``~/.cache/dlzoo``.

    Shapes:
        x: (N, C, H/f, W/f) float32; y: (N, C*H*W) float32 (the image, flattened)
    """
    if source not in SOURCES:
        raise DataError(f"superres: unknown source {source!r}; valid sources: {list(SOURCES)}")
    if factor < 2:
        raise DataError(f"superres: factor must be an integer >= 2, got {factor}")
    if limit is not None and limit < 1:
        raise DataError(f"superres: limit must be >= 1 or None, got {limit}")
    if not val_size >= 0:
        raise DataError(f"superres: val_size must be >= 0, got {val_size}")
    data = _load_source(source, limit=limit, val_size=val_size, split_seed=split_seed, root=root)
    shape = tuple(data.info.input_shape)  # (C, H, W)
    c, h, w = shape
    if h % factor or w % factor:
        valid = [f for f in range(2, min(h, w) + 1) if h % f == 0 and w % f == 0]
        raise DataError(f"superres: factor {factor} does not divide the {source} image size {h}x{w}; valid: {valid}")

    def pair(part: Split | None) -> Split | None:
        if part is None:
            return None
        y = part.x.reshape(-1, c, h, w).float()  # (N, C, H, W)
        return Split(x=downscale(y, factor).contiguous(), y=y.reshape(len(y), -1).clone())  # (N, C, h, w), (N, CHW)

    train, val, test = pair(data.train), pair(data.val), pair(data.test)
    splits = {"train": len(train), **({"val": len(val)} if val is not None else {}), "test": len(test)}
    note = data.info.split_note + f"; x = {factor}x area-average downscale of y"
    note += f"; first {limit} of each split kept" if limit is not None and source != "mnist" else ""
    info = DataInfo(
        name="superres",
        version=f"{data.info.version}/area-x{factor}",
        task="regress",
        input_shape=(c, h // factor, w // factor),
        num_classes=None,
        class_names=None,
        splits=splits,
        split_note=note,
        input_range=(0.0, 1.0),
    )
    return TensorData(train=train, val=val, test=test, info=info)
