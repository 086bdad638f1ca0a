"""CPU tricks are opt-in settings recorded in config.yaml: off by default, on in the presets measured with them."""

from __future__ import annotations

import json
import platform

import yaml

from dlzoo.config import resolve_config


def _hardware(run) -> dict:
    return json.loads((run / "eval.json").read_text())["hardware"]


def test_allocator_setting_is_off_by_default_and_recorded(train_tiny) -> None:
    plain = train_tiny("mlp_classifier")
    assert yaml.safe_load((plain / "config.yaml").read_text())["train"]["retain_freed_memory"] is False
    assert _hardware(plain)["malloc_retains_freed"] is False
    kept = train_tiny("mlp_classifier", "train.retain_freed_memory=true")
    assert yaml.safe_load((kept / "config.yaml").read_text())["train"]["retain_freed_memory"] is True
    # where there is glibc, mallopt accepted both settings; elsewhere the setting does nothing
    assert _hardware(kept)["malloc_retains_freed"] is (platform.libc_ver()[0] == "glibc")


def test_measured_presets_turn_the_cpu_tricks_on_and_the_others_leave_them_off() -> None:
    measured = resolve_config("gpt", preset="shakespeare_cpu")
    assert measured.train.retain_freed_memory is True
    assert measured.task["microbatch_threads"] == 2
    tiny = resolve_config("gpt", preset="tiny")
    assert tiny.train.retain_freed_memory is False
    assert tiny.task["microbatch_threads"] == 1
