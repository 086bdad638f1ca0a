"""deconv family: exact sizes of the upsampling blocks, ICNR, the checkerboard of uneven overlap, the
checkerboard score, the super-resolution objective, learning, and serving."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from dlzoo.families.deconv.blocks import UPSAMPLE_KINDS, icnr_, transpose_padding, upsample
from dlzoo.families.deconv.model import Upsampler, stage_scales
from dlzoo.families.deconv.objective import SuperResObjective
from dlzoo.metrics.artifacts import checkerboard_score, flat_spectrum_score, pixel_parity

SIZES = [
    (kind, s, k, h, w)
    for kind, kernels in (("transpose", (1, 2, 3, 4, 5, 6, 7)), ("resize", (1, 3, 5)), ("shuffle", (1, 3, 5)))
    for s in (2, 3, 4)
    for k in kernels
    for h, w in ((1, 1), (5, 7), (14, 14))
]


@pytest.mark.parametrize("kind,scale,kernel,h,w", SIZES)
def test_every_block_maps_h_w_to_exactly_scale_times(kind: str, scale: int, kernel: int, h: int, w: int) -> None:
    block = upsample(kind, 3, 5, scale=scale, kernel_size=kernel)
    assert block(torch.randn(2, 3, h, w)).shape == (2, 5, scale * h, scale * w)


@pytest.mark.parametrize("kind", UPSAMPLE_KINDS)
def test_default_kernels_double_the_size(kind: str) -> None:
    assert upsample(kind, 4, 2)(torch.randn(1, 4, 6, 9)).shape == (1, 2, 12, 18)


def test_transpose_padding_formula() -> None:
    # H_out = (H - 1) s - 2p + k + op must be s H
    for s in (2, 3, 4):
        for k in range(1, 9):
            p, op = transpose_padding(k, s)
            assert p >= 0 and 0 <= op < s
            assert (10 - 1) * s - 2 * p + k + op == s * 10
    assert transpose_padding(4, 2) == (1, 0) and transpose_padding(3, 2) == (1, 1)


def test_bad_options_are_refused_with_the_valid_choices() -> None:
    with pytest.raises(ValueError, match="resize, shuffle, transpose"):
        upsample("deconv", 1, 1)
    with pytest.raises(ValueError, match="odd kernel_size"):
        upsample("resize", 1, 1, kernel_size=4)
    with pytest.raises(ValueError, match="scale must be an integer >= 2"):
        upsample("shuffle", 1, 1, scale=1)


def test_icnr_repeats_one_subkernel_per_output_channel() -> None:
    torch.manual_seed(0)
    w = torch.empty(3 * 4, 5, 3, 3)
    icnr_(w, 2)
    for c in range(3):
        for r in range(4):
            torch.testing.assert_close(w[c * 4 + r], w[c * 4])
    assert not torch.equal(w[0], w[4])  # different output channels differ


def test_icnr_subpixels_of_each_block_are_equal_at_init() -> None:
    """ICNR (Aitken et al. 2017): conv + PixelShuffle starts as nearest-neighbour upsampling of a conv."""
    torch.manual_seed(0)
    for s in (2, 3):
        block = upsample("shuffle", 4, 2, scale=s)
        y = block(torch.randn(3, 4, 6, 5))  # (3, 2, 6s, 5s)
        for i in range(s):
            for j in range(s):
                torch.testing.assert_close(y[..., i::s, j::s], y[..., 0::s, 0::s])
    plain = upsample("shuffle", 4, 2, icnr=False)(torch.randn(3, 4, 6, 5))
    assert (plain[..., 0::2, 0::2] - plain[..., 1::2, 1::2]).abs().max() > 1e-3  # without ICNR they differ


def test_transpose_k3_s2_on_a_constant_gives_a_checkerboard_resize_and_shuffle_do_not() -> None:
    torch.manual_seed(0)
    x = torch.ones(1, 4, 8, 8)
    interior = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    out = {kind: upsample(kind, 4, 3, kernel_size=3)(x)[interior] for kind in UPSAMPLE_KINDS}
    assert out["transpose"].std() > 1e-2  # uneven overlap: a period-2 pattern
    for kind in ("resize", "shuffle"):
        torch.testing.assert_close(out[kind], out[kind][..., :1, :1].expand_as(out[kind]))  # constant interior


def test_uneven_overlap_pattern_counts_kernel_taps() -> None:
    """All-ones kernel, constant input: each output pixel = number of taps it receives (Odena et al. 2016).
    k=3, s=2: 1 tap per dimension at even positions, 2 at odd ones, so the interior alternates 1, 2 / 2, 4;
    k=4, s=2: 2 x 2 = 4 taps everywhere (even overlap)."""
    for k, expected in ((3, torch.tensor([[1.0, 2.0], [2.0, 4.0]])), (4, torch.full((2, 2), 4.0))):
        conv = upsample("transpose", 1, 1, kernel_size=k)
        with torch.no_grad():
            conv.weight.fill_(1.0)
            conv.bias.zero_()
        y = conv(torch.ones(1, 1, 6, 6))[0, 0, 4:8, 4:8]  # (4, 4) interior, starting at an even row/column
        torch.testing.assert_close(y, expected.repeat(2, 2))


# -- model -----------------------------------------------------------------------------------------


def test_stage_scales() -> None:
    assert stage_scales(2) == [2] and stage_scales(4) == [2, 2] and stage_scales(8) == [2, 2, 2]
    assert stage_scales(3) == [3]
    with pytest.raises(ValueError, match="factor"):
        stage_scales(1)


@pytest.mark.parametrize("block", UPSAMPLE_KINDS)
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_upsampler_output_shape(block: str, factor: int) -> None:
    model = Upsampler(in_channels=1, block=block, kernel_size=None, channels=8, depth=2, factor=factor)
    assert model(torch.rand(2, 1, 7, 7)).shape == (2, 1, 7 * factor, 7 * factor)


@pytest.mark.parametrize("block,kernel", [("transpose", 3), ("resize", 3), ("shuffle", 3)])
def test_every_block_exports_to_onnx_with_parity(block: str, kernel: int, tmp_path) -> None:
    from dlzoo.export import export_model

    torch.manual_seed(0)
    model = Upsampler(in_channels=1, block=block, kernel_size=kernel, channels=8, depth=1, factor=4).eval()
    report = export_model(
        model, torch.rand(3, 1, 7, 7), tmp_path / f"{block}.onnx", fmt="onnx"
    )  # raises on disagreement
    assert report.path.is_file() and report.max_abs_diff < 1e-4


# -- checkerboard score ------------------------------------------------------------------------------


def _grid(n: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.meshgrid(torch.arange(float(n)), torch.arange(float(n)), indexing="ij")


def test_checkerboard_score_separates_periodic_from_smooth_and_nearest() -> None:
    g = torch.Generator().manual_seed(0)
    yy, xx = _grid()
    blob = torch.exp(-((yy - 13) ** 2 + (xx - 15) ** 2) / 30)[None, None]  # (1, 1, 28, 28) smooth
    board = ((yy + xx) % 2)[None, None]  # a pure period-2 checkerboard
    nearest = F.interpolate(torch.rand(4, 1, 14, 14, generator=g), scale_factor=2, mode="nearest")
    assert float(checkerboard_score(board)) == pytest.approx(1.0)
    assert float(checkerboard_score(nearest)) < 1e-12  # the box filter is zero at every alias frequency
    assert float(checkerboard_score(blob)) < 0.05
    assert float(checkerboard_score(blob + 0.05 * board)) > 0.9  # a faint checkerboard dominates the HF band
    noise = torch.rand(32, 1, 28, 28, generator=g)
    assert float(checkerboard_score(noise)) == pytest.approx(flat_spectrum_score(28, 28, 2), rel=0.3)


def test_checkerboard_score_is_brightness_invariant_and_sees_stride_4() -> None:
    g = torch.Generator().manual_seed(1)
    yy, xx = _grid()
    x = torch.rand(3, 1, 28, 28, generator=g) * 0.1 + 0.3 * ((yy % 4) < 2)[None, None]  # period 4 stripes
    torch.testing.assert_close(checkerboard_score(3 * x + 2), checkerboard_score(x))
    assert float(checkerboard_score(x, stride=4)) > 0.5 > float(checkerboard_score(x, stride=2))
    with pytest.raises(ValueError, match="divide"):
        checkerboard_score(x, stride=3)


def test_pixel_parity() -> None:
    yy, xx = _grid(8)
    assert float(pixel_parity(((yy + xx) % 2)[None, None])) > 1.5
    nearest = F.interpolate(torch.rand(2, 1, 4, 4), scale_factor=2, mode="nearest")
    assert float(pixel_parity(nearest)) == pytest.approx(0.0, abs=1e-9)


# -- objective -----------------------------------------------------------------------------------


def test_objective_metrics_are_exact_for_a_known_error() -> None:
    obj = SuperResObjective(SuperResObjective.Config())
    y = 0.2 + 0.6 * torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    m = obj.metrics(y + 0.1, y.flatten(1), y.flatten(1))  # MSE 0.01 per image -> PSNR 20 dB
    assert m["psnr"] == pytest.approx(20.0, abs=1e-3)
    assert obj.metrics(y, y.flatten(1), y.flatten(1))["ssim"] == pytest.approx(1.0, abs=1e-4)
    torch.testing.assert_close(obj.loss(y + 0.1, y.flatten(1)), torch.tensor(0.01))
    with pytest.raises(ValueError, match="model.factor must equal data.factor"):
        obj.loss(torch.rand(6, 1, 16, 16), y.flatten(1))


# -- learning and serving (the tiny run is shared with the contract tests in one session) ---------------


def test_tiny_upsampler_beats_bicubic(train_tiny) -> None:
    from dlzoo.data import load_dataset

    run = train_tiny("upsampler")
    result = json.loads((run / "eval.json").read_text())
    data = load_dataset("superres", source="digits_images", factor=2)
    bicubic = F.interpolate(data.test.x, scale_factor=2, mode="bicubic").clamp(0, 1)  # (N, 1, 8, 8)
    base = SuperResObjective(SuperResObjective.Config()).metrics(bicubic, data.test.y, data.train.y)
    assert result["test/psnr"] > base["psnr"] + 2.0, (result["test/psnr"], base["psnr"])  # ~17.4 vs 13.5 dB
    assert result["test/ssim"] > base["ssim"]


def test_predict_serves_high_resolution_images_and_refuses_bad_input(train_tiny) -> None:
    from fastapi.testclient import TestClient

    from dlzoo.serve import create_app

    run = train_tiny("upsampler")
    with TestClient(create_app(run.parent)) as client:
        url = f"/v1/models/upsampler@{run.name}/predict"
        r = client.post(url, json={"inputs": torch.rand(3, 1, 4, 4).tolist()})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["shape"] == [3, 1, 8, 8]
        images = torch.tensor(body["images"])
        assert images.shape == (3, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
        one = client.post(url, json={"inputs": torch.rand(1, 4, 4).tolist()})  # one image, no batch dim
        assert one.status_code == 200 and one.json()["shape"] == [1, 1, 8, 8]
        for bad, expected in (
            (torch.rand(2, 1, 8, 8).tolist(), "shape"),  # a high-resolution image: wrong size
            (torch.rand(2, 3, 4, 4).tolist(), "shape"),  # wrong channel count
            ((255 * torch.rand(2, 1, 4, 4)).tolist(), "range"),  # 0..255 pixels for a [0, 1] model
        ):
            r = client.post(url, json={"inputs": bad})
            assert r.status_code == 422 and expected in r.text, r.text
        assert client.post(url, json={"images": [1.0]}).status_code == 422  # unknown field
