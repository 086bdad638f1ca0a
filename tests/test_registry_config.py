"""The registry and the typed configs: wrong names are answered with the valid choices."""

from __future__ import annotations

import pytest

from dlzoo.config import ConfigError, RunConfig, parse_override, resolve_config
from dlzoo.registry import RegistryError, create_model, get_spec, list_models, register_model


def test_list_models_filters() -> None:
    names = list_models()
    assert "mlp_classifier" in names and names == sorted(names)
    assert list_models(family="mlp") == ["mlp_classifier", "mlp_regressor"]
    assert "mlp_regressor" in list_models(task="regress") and "mlp_classifier" not in list_models(task="regress")


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: get_spec("mlp_clasifier"), "valid: "),
        (lambda: list_models(family="nope"), "mlp"),
        (lambda: list_models(task="nope"), "classify"),
        (lambda: create_model("mlp_classifier", in_features=4, num_classes=3, widht=3), "unknown argument"),
        (lambda: create_model("mlp_classifier", in_features=4), "missing required"),
        (lambda: get_spec("mlp_classifier").preset("huge"), "tiny"),
    ],
)
def test_registry_errors_name_valid_choices(call, needle: str) -> None:
    with pytest.raises(RegistryError, match=needle):
        call()


def test_register_requires_tiny_and_keyword_only() -> None:
    with pytest.raises(RegistryError, match="tiny"):
        register_model(family="mlp", task="classify", paradigm="supervised", presets={})
    with pytest.raises(RegistryError, match="keyword-only"):
        register_model(family="mlp", task="classify", paradigm="supervised", presets={"tiny": {}})(
            lambda in_features: None
        )
    with pytest.raises(RegistryError, match="classify"):
        register_model(family="mlp", task="classification", paradigm="supervised", presets={"tiny": {}})


def test_resolve_merges_preset_and_overrides() -> None:
    cfg = resolve_config(
        "mlp_classifier", preset="tiny", overrides=["train.lr=0.5", "model.hidden=[7, 5]", "data.split_seed=3"]
    )
    assert cfg.train.lr == 0.5 and cfg.model["hidden"] == [7, 5] and cfg.data == {"name": "digits", "split_seed": 3}
    assert cfg.train.epochs == get_spec("mlp_classifier").presets["tiny"]["train"]["epochs"]
    again = RunConfig.from_yaml(cfg.to_yaml())
    assert again == cfg


def test_data_option_replaces_preset_dataset() -> None:
    cfg = resolve_config("mlp_classifier", preset="default", data="wine")
    assert cfg.data == {"name": "wine"}


@pytest.mark.parametrize(
    ("overrides", "data", "needle"),
    [
        (["train.lrr=1"], None, r"train\.lrr: unknown key; valid: epochs, batch_size"),
        (["train.optimizer=adagrad"], None, "adam"),
        (["train.epochs=-1"], None, "greater than or equal to 1"),
        (["model.widht=3"], None, "unknown argument.*valid: in_features"),
        (["task.label_smoothing=2"], None, "less than 1"),
        (["model.hidden=wide"], None, r"model\.hidden: Input should be a valid tuple"),
        (["data.split_sed=1"], None, "split_seed"),
        (["lr=1"], None, "section.key=value|must start with"),
        (["train.lr"], None, "expected section.key=value"),
        ([], "imagenet", "valid: .*digits"),
    ],
)
def test_config_errors_name_valid_choices(overrides: list[str], data: str | None, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        resolve_config("mlp_classifier", preset="tiny", overrides=overrides, data=data)


def test_parse_override_uses_yaml_values() -> None:
    assert parse_override("model.hidden=[1, 2]") == (["model", "hidden"], [1, 2])
    assert parse_override("train.grad_clip=null") == (["train", "grad_clip"], None)
    assert parse_override("data.name=wine") == (["data", "name"], "wine")


def test_config_yaml_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        RunConfig.from_yaml("model: [unclosed")
    with pytest.raises(ConfigError, match="unknown section"):
        RunConfig.from_yaml("model: {name: mlp_classifier}\ndata: {name: digits}\nextra: 1\n")
    with pytest.raises(ConfigError, match="needs a 'name'"):
        RunConfig.from_yaml("model: {hidden: [3]}\ndata: {name: digits}\n")
