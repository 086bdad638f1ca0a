"""Every run and benchmark record names what it was measured on: CPU model, instruction sets, kernels."""

from __future__ import annotations

import json

import torch

from dlzoo.hardware import ISA_FLAGS, cpu_model, hardware


def test_hardware_names_the_cpu_its_instruction_sets_and_the_dispatched_kernels() -> None:
    info = hardware()
    name, isa = cpu_model()
    assert info["cpu"] == name and name.strip()
    assert info["isa"] == isa and set(isa) <= set(ISA_FLAGS)
    assert info["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["torch_threads"] == torch.get_num_threads() and info["cores"] >= 1


def test_eval_json_records_the_hardware(train_tiny) -> None:
    recorded = json.loads((train_tiny("mlp_classifier") / "eval.json").read_text())["hardware"]
    assert recorded["cpu"] == cpu_model()[0] and recorded["isa"] == cpu_model()[1]
    assert recorded["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
