"""Continual learning, the strategies with their own machinery: GDumb's balanced memory, iCaRL's herding
and nearest-mean classifier, PackNet's frozen sub-networks (exactly unchanged earlier tasks)."""

from __future__ import annotations

import json

import pytest
import torch

from dlzoo.data.streams import StreamBatch


def _batch(y: list[int], task: list[int] | None = None) -> StreamBatch:
    yt = torch.tensor(y)
    return StreamBatch(torch.arange(len(y), dtype=torch.float32)[:, None], yt, torch.tensor(task or [0] * len(y)))


def test_gdumb_memory_is_class_balanced_whatever_the_order() -> None:
    """M = 60: 900 examples of class 0 then 30 of class 1 then 300 of class 2 -> 30/30/... balanced:
    class 1 keeps all 30 of its examples, classes 0 and 2 share the rest equally."""
    from dlzoo.families.continual.gdumb import GreedyClassBalancedMemory

    mem = GreedyClassBalancedMemory(60, seed=0)
    mem.add(_batch([0] * 900))
    assert len(mem) == 60 and mem.counts() == {(0, 0): 60}
    mem.add(_batch([1] * 30))
    assert mem.counts() == {(0, 0): 30, (0, 1): 30}
    mem.add(_batch([2] * 300, [1] * 300))  # a new (task, class): balanced to M / 3 = 20 each... and class 1 too
    assert mem.counts() == {(0, 0): 20, (0, 1): 20, (1, 2): 20}
    # the kept examples of class 0 are a subset of class 0's (x is the stream position)
    assert set(mem.x[mem.y == 0].flatten().long().tolist()) <= set(range(900))
    again = GreedyClassBalancedMemory(60, seed=0)
    again.load_state_dict(mem.state_dict())
    mem.add(_batch([3] * 10, [1] * 10))
    again.add(_batch([3] * 10, [1] * 10))
    assert torch.equal(mem.x, again.x) and mem.counts() == again.counts()


def test_herding_picks_the_mean_greedily() -> None:
    """The first exemplar is the point nearest the mean; each next one minimizes the distance of the
    running exemplar mean to the class mean, so the m-exemplar mean beats a random m-subset's."""
    from dlzoo.families.continual.icarl import herding

    g = torch.Generator().manual_seed(0)
    phi = torch.nn.functional.normalize(torch.randn(200, 8, generator=g), dim=-1)
    mu = phi.mean(0)
    idx = herding(phi, 10)
    assert len(set(idx.tolist())) == 10 and int(idx[0]) == int((phi - mu).norm(dim=-1).argmin())
    k2 = (mu - (phi[idx[0]] + phi) / 2).norm(dim=-1)
    k2[idx[0]] = float("inf")
    assert int(idx[1]) == int(k2.argmin())
    herd = (phi[idx].mean(0) - mu).norm()
    rand = torch.stack([(phi[torch.randperm(200, generator=g)[:10]].mean(0) - mu).norm() for _ in range(50)])
    assert herd < rand.min(), (herd, rand.min())
    assert sorted(herding(phi, 500).tolist()) == list(range(200))  # m > n: every example once


def test_icarl_eval_scores_are_the_nearest_mean_rule() -> None:
    from dlzoo.families.continual.icarl import ICaRLMLP

    net = ICaRLMLP(input_shape=(4,), hidden=(8,), num_outputs=3)
    x = torch.randn(5, 4)
    torch.testing.assert_close(net.eval()(x), net.logits(x))  # no means yet: the network's logits
    net.means[:2] = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    net.has_mean[:2] = True
    out = net(x)
    phi = net.embed(x)
    torch.testing.assert_close(out[:, :2], -torch.cdist(phi, net.means[:2]).square(), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[:, 2], net.logits(x)[:, 2])
    assert torch.equal(net.train()(x), net.logits(x))  # training: the logits, always


def test_icarl_learns_class_il_and_refuses_domain_il(train_tiny) -> None:
    result = json.loads((train_tiny("cl_icarl", "train.epochs=3") / "eval.json").read_text())
    R = torch.tensor(result["accuracy_matrix"])
    assert R[0, 0] > 0.9 and result["test/acc_task0"] > 0.6, R  # fine-tuning: ~0 on task 0 (test_continual)
    with pytest.raises(ValueError, match="cl_icarl .* needs separate units per task"):
        train_tiny("cl_icarl", "task.scenario=domain")


def test_gdumb_keeps_every_task(train_tiny) -> None:
    result = json.loads((train_tiny("cl_gdumb") / "eval.json").read_text())
    accs = [result[f"test/acc_task{j}"] for j in range(5)]
    assert min(accs) > 0.5 and result["test/acc"] > 0.7, accs  # retrained on 20 examples of each digit


def test_packnet_earlier_tasks_are_exactly_unchanged(tmp_path) -> None:
    """Every column of R is constant from its task's row on (the frozen sub-network), and task 0's logits
    after task 0 equal its logits at the end bit for bit; the owners only grow."""
    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.training import train_run

    snaps: dict[int, tuple[torch.Tensor, list[torch.Tensor]]] = {}
    cfg = resolve_config("cl_packnet", preset="tiny", overrides=["train.progress=false", "train.epochs=1"])
    from dlzoo.data import load_dataset

    x = load_dataset("digits_images").test.x[:64]
    run = RunDir.create(tmp_path, "cl_packnet", "r")
    import dlzoo.families.continual.packnet as pk

    original = pk.PackNetObjective.finish_task

    def spy(self, model, task_data, heads):
        original(self, model, task_data, heads)
        with torch.no_grad():
            snaps[int(model.current) - 1] = (model.eval()(x).clone(), [o.clone() for o in model.owners()])
        model.train()

    pk.PackNetObjective.finish_task = spy
    try:
        result = train_run(cfg, run)
    finally:
        pk.PackNetObjective.finish_task = original
    R = torch.tensor(result["accuracy_matrix"])
    for j in range(5):
        assert torch.equal(R[j:, j], R[j, j].expand(5 - j)), R
    assert R.diagonal().min() > 0.8, R
    from dlzoo.runs import load_run

    final = load_run(run.path).model.eval()
    with torch.no_grad():
        out = final(x)
    for t, (logits, owners) in snaps.items():
        assert torch.equal(out[:, 2 * t : 2 * t + 2], logits[:, 2 * t : 2 * t + 2]), t
        for before, after in zip(owners, final.owners(), strict=True):
            kept = before < pk.FREE
            assert torch.equal(after[kept], before[kept])  # an owner never changes once set
    with pytest.raises(ValueError, match="needs the task id: task.scenario=task"):
        train_run(
            resolve_config("cl_packnet", preset="tiny", overrides=["train.progress=false", "task.scenario=class"]),
            RunDir.create(tmp_path, "cl_packnet", "bad"),
        )
