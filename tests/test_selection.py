"""The loop's model selection (train.early_stop, train.keep_best), the data-sized batch and the plateau schedule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from dlzoo.config import ConfigError, TrainConfig, resolve_config
from dlzoo.evaluate import evaluate_run
from dlzoo.runs import RunDir, RunError
from dlzoo.tasks.supervised import batch_size_for
from dlzoo.training import train_run
from dlzoo.training.selection import Selection

FAST = ["train.progress=false", "train.threads=1", "train.checkpoint_every=1"]


def _selection(**train: object) -> Selection:
    return Selection(TrainConfig(**train))


def test_early_stop_counts_checks_without_any_improvement() -> None:
    s = _selection(early_stop={"monitor": ["val/loss", "val/accuracy"], "mode": ["min", "max"], "patience": 3})
    model = torch.nn.Linear(1, 1)
    for r, (loss, acc) in enumerate([(1.0, 0.5), (0.9, 0.5), (0.95, 0.6), (0.95, 0.6), (0.91, 0.55)]):
        s.check(r, {"val/loss": loss, "val/accuracy": acc}, model)
        assert not s.stopped  # round 1: loss improved; round 2: accuracy improved; 3, 4: nothing
    s.check(5, {"val/loss": 0.9, "val/accuracy": 0.6}, model)  # a tie is no improvement by default
    assert s.stopped and s.stopped_round == 5 and "3 checks" in s.stop_reason
    s = _selection(early_stop={"monitor": "val/loss", "mode": "min", "patience": 1, "ties_improve": True})
    s.check(0, {"val/loss": 1.0}, model)
    s.check(1, {"val/loss": 1.0}, model)  # the GAT code's <=: a tie restarts the patience
    assert not s.stopped
    s.check(2, {"val/loss": 1.0 + 1e-9}, model)
    assert s.stopped


def test_keep_best_needs_every_monitor_at_its_best_and_skips_nan() -> None:
    s = _selection(keep_best={"monitor": ["val/loss", "val/accuracy"], "mode": ["min", "max"]})
    model = torch.nn.Linear(1, 1)
    history = [(1.0, 0.5), (0.8, 0.4), (0.7, 0.6), (float("nan"), 0.9), (0.6, 0.55)]
    for r, (loss, acc) in enumerate(history):
        with torch.no_grad():
            model.weight.fill_(r)
        s.check(r, {"val/loss": loss, "val/accuracy": acc}, model)
    assert s.kept_round == 2 and "val/loss 0.7 (min)" in s.kept_reason
    s.restore(model)
    assert float(model.weight.detach()) == 2.0
    with pytest.raises(ConfigError, match="2 monitors but 3 modes"):
        resolve_config(
            "mlp_classifier",
            preset="tiny",
            overrides=["train.keep_best={monitor: [val/a, val/b], mode: [min, max, min]}"],
        )
    with pytest.raises(ConfigError, match="val/<metric> or train/<metric>"):
        resolve_config("mlp_classifier", preset="tiny", overrides=["train.keep_best={monitor: loss, mode: min}"])


def _val_rows(run: RunDir) -> dict[int, dict]:
    return {row["round"]: row for row in run.read_metrics() if "val/nll" in row}


@pytest.mark.parametrize(
    ("model", "data"),
    [("mlp_classifier", ["data.val_size=0.2"]), ("gat", [])],
    ids=["supervised", "graph"],
)
def test_a_run_stops_early_and_saves_the_kept_rounds_weights(tmp_path: Path, model: str, data: list[str]) -> None:
    # min_delta 10: only the first check improves, so training stops after `patience` more rounds and
    # the kept weights are round 0's, whatever the CPU
    cfg = resolve_config(
        model,
        preset="tiny",
        overrides=[
            *FAST,
            *data,
            "train.epochs=30",
            "train.early_stop={monitor: val/nll, mode: min, patience: 3, min_delta: 10}",
            "train.keep_best={monitor: val/nll, mode: min, min_delta: 10}",
        ],
    )
    run = RunDir.create(tmp_path, model, "r")
    result = train_run(cfg, run)
    sel = result["selection"]
    assert sel["stopped_early"] and sel["last_round"] == 3 and result["rounds"] == 4
    assert sel["kept_round"] == 0 and "val/nll" in sel["kept_reason"]
    assert max(r["round"] for r in run.read_metrics()) == 3  # no round after the stop
    rows = _val_rows(run)
    again = evaluate_run(run.path, split="val")  # model.safetensors holds round 0's weights, not round 3's
    assert math.isclose(again["val/nll"], rows[0]["val/nll"], rel_tol=1e-5)
    assert not math.isclose(again["val/nll"], rows[3]["val/nll"], rel_tol=1e-5)
    assert json.loads(run.eval_path.read_text())["selection"] == sel
    assert "weights of round 0 of 4 rounds" in run.card_path.read_text()


def test_a_natural_early_stop_on_the_graph_keeps_the_best_validation_epoch(tmp_path: Path) -> None:
    cfg = resolve_config(
        "gat",
        preset="tiny",
        overrides=[
            *FAST,
            "train.epochs=300",
            "train.early_stop={monitor: [val/nll, val/accuracy], mode: [min, max], patience: 10, ties_improve: true}",
            "train.keep_best={monitor: val/nll, mode: min}",
        ],
    )
    run = RunDir.create(tmp_path, "gat", "r")
    result = train_run(cfg, run)
    rows = _val_rows(run)
    best = min(rows, key=lambda r: rows[r]["val/nll"])
    assert result["selection"]["stopped_early"] and result["rounds"] < 300
    assert result["selection"]["kept_round"] == best
    assert math.isclose(evaluate_run(run.path, split="val")["val/nll"], rows[best]["val/nll"], rel_tol=1e-5)


def test_resume_selects_exactly_what_an_uninterrupted_run_does(tmp_path: Path) -> None:
    overrides = [
        *FAST,
        "data.val_size=0.2",
        "train.epochs=12",
        "train.early_stop={monitor: val/nll, mode: min, patience: 4, min_delta: 10}",  # stops after round 4
        "train.keep_best={monitor: [val/nll, val/accuracy], mode: [min, max], ties_improve: true}",
    ]
    clean = RunDir.create(tmp_path, "mlp_classifier", "clean")
    expected = train_run(resolve_config("mlp_classifier", preset="tiny", overrides=overrides), clean)

    class Killed(Exception):
        pass

    def kill(round_idx: int, val: dict) -> None:
        if round_idx == 3:
            raise Killed

    killed = RunDir.create(tmp_path, "mlp_classifier", "killed")
    with pytest.raises(Killed):
        train_run(resolve_config("mlp_classifier", preset="tiny", overrides=overrides), killed, on_eval=kill)
    resumed = train_run(killed.read_config(), killed, resume=True)
    assert expected["selection"]["last_round"] == 4 and resumed["selection"] == expected["selection"]
    assert resumed["test/nll"] == expected["test/nll"] and resumed["rounds"] == expected["rounds"]


def test_a_val_monitor_without_a_val_split_is_one_clear_error(tmp_path: Path) -> None:
    cfg = resolve_config(
        "fcn_tsc", preset="tiny", overrides=[*FAST, "train.epochs=1", "train.keep_best={monitor: val/nll, mode: min}"]
    )
    with pytest.raises(RunError, match="no val split"):
        train_run(cfg, RunDir.create(tmp_path, "fcn_tsc", "r"))


# -- the data-sized batch (Fawaz et al. 2019) and the plateau schedule ------------------------------


def test_batch_fraction_is_fawaz_et_als_rule() -> None:
    assert batch_size_for(16, 0.1, 30) == 3 and batch_size_for(16, 0.1, 1000) == 16
    assert batch_size_for(64, 0.1, 390) == 39 and batch_size_for(64, 0.1, 5) == 1
    assert batch_size_for(16, None, 30) == 16
    assert batch_size_for(3, 0.1, 30) == 3  # idempotent: config.yaml records the size used


def test_ucr_presets_size_the_batch_from_the_training_set(tmp_path: Path) -> None:
    cfg = resolve_config(
        "fcn_tsc", preset="fawaz2019", data="cbf", overrides=[*FAST, "train.epochs=2", "model.filters=[4,4,4]"]
    )
    assert cfg.train.scheduler == "plateau" and cfg.train.keep_best.monitor == ["train/loss"]
    run = RunDir.create(tmp_path, "fcn_tsc", "r")
    result = train_run(cfg, run)
    assert run.read_config().train.batch_size == 3  # min(16, 30 / 10)
    assert result["selection"]["kept_round"] in (0, 1)
    assert resolve_config("resnet_tsc", preset="fawaz2019").train.batch_size == 64
    assert resolve_config("resnet_tsc", preset="ucr").train.batch_fraction == 0.1


def test_plateau_halves_the_lr_after_patience_epochs_without_improvement() -> None:
    from lightning_fabric import Fabric

    from dlzoo.tasks.base import Optimization

    cfg = TrainConfig(scheduler="plateau", plateau_patience=2, plateau_factor=0.5, lr=1e-3, min_lr=3e-4)
    model = torch.nn.Linear(1, 1)
    opt = Optimization(Fabric(accelerator="cpu", devices=1), model, cfg)
    lrs = []
    for _ in range(8):
        opt.step((model(torch.ones(1, 1)) * 0).sum() + 1.0)  # a constant loss: never improves
        opt.end_epoch()
        lrs.append(opt.optimizer.param_groups[0]["lr"])
    assert lrs[:3] == [1e-3] * 3 and lrs[3] == pytest.approx(5e-4) and lrs[-1] == pytest.approx(3e-4)


def test_paper_presets_say_their_protocol() -> None:
    gat = resolve_config("gat", preset="velickovic2018").train
    assert gat.early_stop.patience == 100 and gat.early_stop.monitor == ["val/nll", "val/accuracy"]
    assert gat.early_stop.mode == ["min", "max"] and gat.early_stop.ties_improve
    assert gat.keep_best.monitor == ["val/nll", "val/accuracy"] and gat.keep_best.ties_improve
    assert (gat.lr, gat.weight_decay, gat.epochs) == (0.005, 5e-4, 3000)
    for model, epochs, cap in (("fcn_tsc", 2000, 16), ("resnet_tsc", 1500, 64)):
        t = resolve_config(model, preset="fawaz2019").train
        assert (t.epochs, t.batch_size, t.batch_fraction, t.optimizer, t.lr) == (epochs, cap, 0.1, "adam", 1e-3)
        assert (t.scheduler, t.plateau_factor, t.plateau_patience, t.min_lr) == ("plateau", 0.5, 50, 1e-4)
        assert t.keep_best.monitor == ["train/loss"] and t.keep_best.mode == ["min"]
    gin = resolve_config("gin")
    assert gin.data["val_fraction"] == 0.1 and gin.train.early_stop.monitor == ["val/nll"]
