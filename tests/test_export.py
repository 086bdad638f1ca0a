"""ONNX and TorchScript export: parity with PyTorch, and the failures the parity check must catch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from dlzoo import inference
from dlzoo.config import resolve_config
from dlzoo.data import load_dataset
from dlzoo.export import ExportError, export_model, export_run
from dlzoo.runs import RunDir, load_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dlzoo.training.loop import train_run

    run = RunDir.create(tmp_path_factory.mktemp("runs"), "mlp_classifier", "e")
    cfg = resolve_config("mlp_classifier", preset="tiny", overrides=["train.epochs=3", "train.progress=false"])
    train_run(cfg, run)
    return run.path


class TwoHeads(nn.Module):
    """A conv net returning a tuple: (logits (B, 3), channel means (B, 4))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4 * 8 * 8, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.bn(self.conv(x)).relu()  # (B, 4, 8, 8)
        return self.head(h.flatten(1)), h.mean((2, 3))


class Noisy(nn.Module):
    """Nondeterministic in eval mode: no exported file can match it."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + torch.randn(x.shape[0], 3)


class BatchBranch(nn.Module):
    """Python control flow on the batch size: a trace freezes it, a script keeps it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 2:
            return x * 2
        return x * 3


def test_onnx_export_of_a_run_matches_pytorch_in_onnxruntime(run_dir: Path) -> None:
    import onnxruntime as ort

    report = export_run(run_dir, fmt="onnx")
    assert report.path == run_dir / "export" / "model.onnx" and report.path.is_file()
    assert report.fmt == "onnx" and report.outputs == 1 and report.max_abs_diff < 1e-4
    x = load_dataset("digits").test.x[:37]  # a batch size the export never saw
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    loaded = load_run(run_dir)
    torch.testing.assert_close(torch.from_numpy(logits), loaded.model(x).detach(), rtol=1e-4, atol=1e-4)
    assert torch.from_numpy(logits).argmax(-1).tolist() == inference.predict(loaded, x)["labels"]


def test_torchscript_export_of_a_run_reloads_with_the_same_outputs(run_dir: Path, tmp_path: Path) -> None:
    report = export_run(run_dir, fmt="torchscript", out=tmp_path / "m.pt")
    assert report.path == tmp_path / "m.pt" and report.fmt == "torchscript" and report.max_abs_diff < 1e-4
    module = torch.jit.load(str(report.path))
    x = load_dataset("digits").test.x[:9]
    torch.testing.assert_close(module(x), load_run(run_dir).model(x).detach())


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_conv_model_with_a_tuple_of_outputs(tmp_path: Path, fmt: str) -> None:
    torch.manual_seed(0)
    model = TwoHeads()
    model.bn.running_mean.uniform_(-1, 1)  # non-trivial eval-mode statistics
    report = export_model(model, torch.randn(2, 1, 8, 8), tmp_path / f"m.{fmt}", fmt=fmt)
    assert report.outputs == 2 and report.max_abs_diff < 1e-4
    assert model.training  # the caller's mode is restored


def test_unknown_format_lists_the_valid_ones(run_dir: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format 'tflite'; valid: onnx, torchscript"):
        export_run(run_dir, fmt="tflite")


def test_nondeterministic_model_fails_parity(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"parity check failed .* max \|diff\| = .*not deterministic in eval mode"):
        export_model(Noisy(), torch.randn(2, 4), tmp_path / "noisy.pt", fmt="torchscript")


def test_frozen_batch_size_fails_the_onnx_check_but_scripting_keeps_the_branch(tmp_path: Path) -> None:
    # an ONNX graph captured on a batch of 2 takes the x * 2 path; the check runs a batch of 5
    with pytest.raises(ExportError, match="fails on a batch of 5|parity check failed"):
        export_model(BatchBranch(), torch.randn(2, 3), tmp_path / "b.onnx", fmt="onnx")
    report = export_model(BatchBranch(), torch.randn(2, 3), tmp_path / "b.pt", fmt="torchscript")
    assert report.exporter == "script" and report.max_abs_diff == 0.0


def test_run_without_input_shape_is_an_error(run_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "mlp_classifier" / "x"
    broken.mkdir(parents=True)
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    del cfg["info"]["input_shape"]
    (broken / "config.yaml").write_text(yaml.safe_dump(cfg))
    (broken / "model.safetensors").write_bytes((run_dir / "model.safetensors").read_bytes())
    with pytest.raises(ExportError, match="no recorded input_shape"):
        export_run(broken, fmt="torchscript")


def test_cli_export(run_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dlzoo.cli import app

    out = tmp_path / "cli.pt"
    result = CliRunner().invoke(app, ["export", str(run_dir), "--format", "torchscript", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "max |diff| vs PyTorch" in " ".join(result.output.split())  # rich wraps lines


class TokensAndMask(nn.Module):
    """Two inputs, one of them integer: token ids (B, T) and a float mask (B, T) -> pooled logits (B, 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb, self.head = nn.Embedding(11, 8), nn.Linear(8, 3)

    def forward(self, idx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.emb(idx) * mask.unsqueeze(-1)  # (B, T, 8)
        return self.head(h.sum(1) / mask.sum(1, keepdim=True).clamp_min(1))  # (B, 3)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_several_inputs_integer_ids_and_a_dynamic_length(tmp_path: Path, fmt: str) -> None:
    torch.manual_seed(0)
    idx, mask = torch.randint(0, 11, (2, 7)), torch.ones(2, 7)
    dims = ({0: "batch", 1: "time"}, {0: "batch", 1: "time"})
    check = [(torch.randint(0, 11, (5, 4)), torch.rand(5, 4).round()), (torch.randint(0, 11, (1, 9)), torch.ones(1, 9))]
    report = export_model(TokensAndMask(), (idx, mask), tmp_path / f"m.{fmt}", fmt=fmt, check=check, dynamic=dims)
    assert report.max_abs_diff < 1e-5 and report.outputs == 1
    # by default only dim 0 varies, and integer check inputs are drawn inside the example's id range
    report = export_model(TokensAndMask(), (idx, mask), tmp_path / f"d.{fmt}", fmt=fmt)
    assert report.max_abs_diff < 1e-5


def test_a_frozen_sequence_length_fails_the_check(tmp_path: Path) -> None:
    idx, mask = torch.randint(0, 11, (2, 7)), torch.ones(2, 7)
    longer = [(torch.randint(0, 11, (3, 9)), torch.ones(3, 9))]
    with pytest.raises(ExportError, match="fails on inputs of dim-0 sizes 3/3"):
        export_model(TokensAndMask(), (idx, mask), tmp_path / "m.onnx", fmt="onnx", check=longer)


# -- metadata: what a consumer of the file needs to read its outputs ----------------------------


def test_onnx_export_carries_class_names_input_shape_and_run_as_metadata(run_dir: Path) -> None:
    import onnx
    import onnxruntime as ort

    report = export_run(run_dir, fmt="onnx", out=run_dir / "export" / "meta.onnx")
    props = {p.key: p.value for p in onnx.load(str(report.path)).metadata_props}
    info = yaml.safe_load((run_dir / "config.yaml").read_text())["info"]
    assert props["model"] == "mlp_classifier" and props["run"] == run_dir.name
    assert json.loads(props["class_names"]) == info["class_names"] == [str(i) for i in range(10)]
    assert json.loads(props["input_shape"]) == [64]
    assert "vocab" not in props  # a classifier has no vocabulary
    assert report.metadata == props
    # the same through onnxruntime, which a deployment reads it with
    meta = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert json.loads(meta.custom_metadata_map["class_names"]) == info["class_names"]


def test_onnx_export_of_a_language_model_carries_its_vocabulary(train_tiny, tmp_path: Path) -> None:
    import onnx

    run = train_tiny("gpt")
    report = export_run(run, fmt="onnx", out=tmp_path / "gpt.onnx")
    props = {p.key: p.value for p in onnx.load(str(report.path)).metadata_props}
    vocab = yaml.safe_load((run / "config.yaml").read_text())["info"]["vocab"]
    assert json.loads(props["vocab"]) == (list(vocab) if isinstance(vocab, str) else vocab) and len(vocab) > 2
    assert props["model"] == "gpt" and "class_names" not in props


def test_torchscript_export_carries_the_same_metadata(run_dir: Path, tmp_path: Path) -> None:
    report = export_run(run_dir, fmt="torchscript", out=tmp_path / "m.pt")
    extra = {"metadata.json": ""}
    torch.jit.load(str(report.path), _extra_files=extra)
    meta = json.loads(extra["metadata.json"])
    assert meta["model"] == "mlp_classifier" and json.loads(meta["class_names"])[3] == "3"
