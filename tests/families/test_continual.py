"""Continual learning: the task stream, the accuracy-matrix metrics, the strategies' math, the paradigm.

Analytic checks (ACC/BWT/FWT/forgetting on a hand-computed matrix, the diagonal Fisher against a
per-example loop, A-GEM's projection, the reservoir's uniformity), a resume across a task boundary,
a learning test (replay keeps task 1 in class-IL where fine-tuning forgets it) and bad input.
"""

from __future__ import annotations

import pytest
import torch

from dlzoo.data import DataError, load_dataset
from dlzoo.data.streams import make_stream, masked_logits, rotate
from dlzoo.metrics.continual import average_accuracy, backward_transfer, forgetting, forward_transfer

# R[i, j]: accuracy on task j after training task i (three tasks), b[j]: at random init
R = torch.tensor([[0.9, 0.1, 0.2], [0.95, 0.8, 0.3], [0.5, 0.7, 0.95]])
B = torch.tensor([0.1, 0.15, 0.05])


def test_stream_metrics_against_hand_values() -> None:
    assert average_accuracy(R) == pytest.approx((0.5 + 0.7 + 0.95) / 3)
    assert backward_transfer(R) == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)  # -0.25
    assert forward_transfer(R, B) == pytest.approx(((0.1 - 0.15) + (0.3 - 0.05)) / 2)  # 0.1
    # forgetting: task 0 peaked at 0.95 (after task 1), not at 0.9: (0.95 - 0.5 + 0.8 - 0.7) / 2
    assert forgetting(R) == pytest.approx(0.275)
    with pytest.raises(ValueError, match="missing"):
        average_accuracy(torch.tensor([[0.9, float("nan")], [0.5, 0.6]]))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits_images")


def test_split_stream_scenarios(digits) -> None:
    classes = [[3, 1], [0, 2]]
    stream = make_stream(digits, protocol="split", scenario="class", classes=classes)
    t1 = stream.tasks[1].splits["train"]
    assert set(t1.y.tolist()) == {0, 1} and len(t1) == int(torch.isin(digits.train.y, torch.tensor([0, 2])).sum())
    # local label 0 of task 0 is class 3: its images are the dataset's class-3 images, in order
    torch.testing.assert_close(
        stream.tasks[0].splits["train"].x[stream.tasks[0].splits["train"].y == 0], digits.train.x[digits.train.y == 3]
    )
    assert stream.num_outputs == 4 and stream.targets(1, torch.tensor([0, 1])).tolist() == [2, 3]
    task_ids = torch.tensor([0, 1])
    assert stream.heads(1).mask(task_ids).tolist() == [[True, True, False, False]] * 2  # class-IL: seen units
    til_stream = make_stream(digits, protocol="split", scenario="task", classes=classes)
    assert til_stream.targets(1, torch.tensor([0, 1])).tolist() == [2, 3]  # task 1's head: units 2, 3
    til = til_stream.heads(2).mask(task_ids)
    assert til.tolist() == [[True, True, False, False], [False, False, True, True]]  # one head per task
    dil = make_stream(digits, protocol="split", scenario="domain", classes=classes)
    assert dil.num_outputs == 2 and dil.targets(1, torch.tensor([1])).tolist() == [1]
    logits = masked_logits(torch.zeros(2, 4), til)
    assert torch.isinf(logits).sum() == 4 and logits.softmax(-1)[0, :2].tolist() == [0.5, 0.5]


def test_permuted_and_rotated_streams(digits) -> None:
    perm = make_stream(digits, protocol="permuted", scenario="domain", seeds=[1, 2])
    x0, x1 = (t.splits["train"].x for t in perm.tasks)
    assert not torch.equal(x0, x1)
    torch.testing.assert_close(x0.flatten(1).sort(-1).values, digits.train.x.flatten(1).sort(-1).values)
    again = make_stream(digits, protocol="permuted", scenario="domain", seeds=[1, 2]).tasks[1].splits["train"].x
    assert torch.equal(again, x1)  # the seed is the definition
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 4] = 1.0  # right of centre
    up = rotate(x, 90.0)  # counter-clockwise: the pixel moves to the top
    assert up[0, 0].argmax().item() == 0 * 5 + 2 and torch.allclose(rotate(x, 0.0), x, atol=1e-6)
    rot = make_stream(digits, protocol="rotated", scenario="class", angles=[0.0, 90.0])
    torch.testing.assert_close(rot.tasks[0].splits["test"].x, digits.test.x, atol=1e-5, rtol=0)
    assert rot.num_outputs == 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "split", "classes": [[0, 1], [1, 2]]}, "tasks 0 and 1 overlap: class 1"),
        ({"protocol": "split", "classes": [[0, 1], []]}, "task 1 of the split stream is empty"),
        ({"protocol": "split", "classes": [[0, 1], [2]]}, "same number of classes"),
        ({"protocol": "split", "classes": [[0, 12]]}, "lacks; valid: 0..9"),
        ({"protocol": "split", "classes": [[0, 1]], "seeds": [1]}, "reads classes, not"),
        ({"protocol": "permuted", "seeds": [3, 3]}, "must differ"),
        ({"protocol": "spiral", "seeds": [3]}, "valid: split, permuted, rotated"),
        ({"protocol": "split", "classes": [[0, 1]], "scenario": "online"}, "valid: task, domain, class"),
    ],
)
def test_bad_stream_definitions(digits, kwargs, message) -> None:
    with pytest.raises(DataError, match=message):
        make_stream(digits, **{"scenario": "class", **kwargs})


# -- the strategies' math --------------------------------------------------------------------------


def test_diagonal_fisher_matches_a_per_example_loop() -> None:
    from dlzoo.data.streams import StreamBatch, StreamHeads
    from dlzoo.families.continual.model import ContinualMLP
    from dlzoo.families.continual.regularization import diagonal_fisher

    torch.manual_seed(0)
    model = ContinualMLP(input_shape=(5,), hidden=(4,), num_outputs=6)
    x, task = torch.randn(7, 5), torch.tensor([0, 1, 2, 0, 1, 2, 1])
    data = StreamBatch(x, torch.zeros(7, dtype=torch.int64), task)
    heads = StreamHeads("task", 2, 6, 3)  # task-IL: each example has its own 2-unit head
    fisher = diagonal_fisher(model, data, heads, chunk=3)
    expected = [torch.zeros_like(p) for p in model.parameters()]
    for b in range(7):  # F = 1/N sum_b sum_{c in head(b)} p(c | x_b) (d log p(c | x_b) / d theta)^2
        units = [2 * int(task[b]), 2 * int(task[b]) + 1]
        for c in units:
            logp = torch.log_softmax(model(x[b : b + 1])[0, units], -1)[units.index(c)]
            grads = torch.autograd.grad(logp, list(model.parameters()))
            for e, g in zip(expected, grads, strict=True):
                e += logp.exp().detach() * g.square() / 7
    for f, e in zip(fisher, expected, strict=True):
        torch.testing.assert_close(f, e, rtol=1e-5, atol=1e-8)
    assert all(float(f.sum()) > 0 for f in fisher)


def test_agem_projection_has_a_nonnegative_dot_with_the_reference() -> None:
    from dlzoo.families.continual.rehearsal import agem_project

    g = torch.randn(200, generator=torch.Generator().manual_seed(1))
    g_ref = -g + 0.1 * torch.randn(200, generator=torch.Generator().manual_seed(2))  # conflicting
    new = agem_project(g, g_ref)
    assert float(torch.dot(g, g_ref)) < 0 and abs(float(torch.dot(new, g_ref))) < 1e-4
    torch.testing.assert_close(new - g, (new - g).dot(g_ref) / g_ref.dot(g_ref) * g_ref)  # moved along g_ref only
    aligned = g_ref + 0.1 * g  # no conflict: left as it is
    assert float(torch.dot(aligned, g_ref)) > 0 and torch.equal(agem_project(aligned, g_ref), aligned)


def test_agem_step_writes_the_projected_gradient(digits) -> None:
    from dlzoo.families.continual.model import ContinualMLP
    from dlzoo.families.continual.objective import params, task_loss
    from dlzoo.families.continual.rehearsal import AGEMObjective

    stream = make_stream(digits, protocol="split", scenario="class", classes=[[0, 1], [2, 3]])
    torch.manual_seed(0)
    model = ContinualMLP(input_shape=(1, 8, 8), hidden=(16,), num_outputs=stream.num_outputs)
    agem = AGEMObjective(AGEMObjective.Config(buffer_size=50, replay_batch_size=20))
    heads = stream.heads(2)
    agem.consolidate(model, stream.batch([0]), heads)
    batch = stream.batch([1])
    dots = []
    for _ in range(5):
        model.zero_grad()
        task_loss(model, batch, heads).backward()
        state = agem.buffer.generator.get_state()
        logs = agem.before_update(model, batch, heads)
        agem.buffer.generator.set_state(state)  # the same memory batch again: its reference gradient
        g_ref = torch.autograd.grad(task_loss(model, agem.buffer.sample(20, batch.x.device), heads), params(model))
        dots.append(sum(float((p.grad * r).sum()) for p, r in zip(params(model), g_ref, strict=True)))
        assert logs["projected"] in (0.0, 1.0)
        with torch.no_grad():
            for p in params(model):
                p -= 0.5 * p.grad
    assert min(dots) >= -1e-5


def test_reservoir_keeps_a_uniform_sample() -> None:
    """Each of N = 500 stream positions must be kept with probability M / N = 0.1: over 400 seeded
    reservoirs, the counts in 10 position bins pass a chi-square test (9 dof) and first/last bins agree."""
    from scipy.stats import chisquare

    from dlzoo.data.streams import StreamBatch
    from dlzoo.families.continual.rehearsal import ReservoirBuffer

    n, m, trials = 500, 50, 400
    counts = torch.zeros(n)
    stream = StreamBatch(
        torch.arange(n, dtype=torch.float32)[:, None], torch.arange(n), torch.zeros(n, dtype=torch.int64)
    )
    for seed in range(trials):
        buf = ReservoirBuffer(m, seed=seed)
        for start in range(0, n, 32):
            buf.add(
                StreamBatch(stream.x[start : start + 32], stream.y[start : start + 32], stream.task[start : start + 32])
            )
        assert len(buf) == m and len(set(buf.y.tolist())) == m
        counts[buf.y] += 1
    bins = counts.reshape(10, 50).sum(1)  # expected 400 * 50 * 0.1 = 2000 each
    assert chisquare(bins.numpy()).pvalue > 0.01, bins
    assert abs(float(bins[0] - bins[-1])) < 0.1 * 2000  # not biased to the first or the last examples


# -- the paradigm ------------------------------------------------------------------------------------


class _Stop(Exception):
    pass


@pytest.mark.parametrize(
    "model", ["cl_ewc", "cl_si", "cl_lwf", "cl_replay", "cl_agem", "cl_gdumb", "cl_icarl", "cl_packnet"]
)
@pytest.mark.parametrize("stop_after", [1, 2])  # killed just before / just after the task-0 boundary's checkpoint
def test_resume_across_a_task_boundary_gives_the_same_matrix(tmp_path, model, stop_after) -> None:
    """epochs=2: task 0 ends with round 1. The run is stopped at round ``stop_after``'s evaluation (its
    checkpoint is round stop_after - 1's), resumed, and must end with the uninterrupted run's R and weights."""
    import json

    from safetensors.torch import load_file

    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.training import train_run

    over = ["train.progress=false", "data.val_size=0.2"]

    def run(name: str, **kw):
        cfg = resolve_config(model, preset="tiny", overrides=over)
        return RunDir.create(tmp_path, model, name), cfg, kw

    d, cfg, _ = run("ref")
    ref = train_run(cfg, d)

    def stop(r: int, val: dict) -> None:
        if r == stop_after:
            raise _Stop

    d2, cfg, _ = run("cut")
    with pytest.raises(_Stop):
        train_run(cfg, d2, on_eval=stop)
    again = train_run(resolve_config(model, preset="tiny", overrides=over), d2, resume=True)
    assert again["accuracy_matrix"] == ref["accuracy_matrix"]
    assert {k: v for k, v in again.items() if k.startswith("test/")} == {
        k: v for k, v in ref.items() if k.startswith("test/")
    }
    a, b = load_file(d.weights_path), load_file(d2.weights_path)
    assert all(torch.equal(a[k], b[k]) for k in a)

    def history(path):
        return [{k: v for k, v in json.loads(x).items() if k != "time"} for x in path.read_text().splitlines()]

    assert history(d2.metrics_path) == history(d.metrics_path)


def test_replay_keeps_the_first_task_where_finetuning_forgets_it(train_tiny) -> None:
    """Class-IL Split digits (5 tasks): after the last task, fine-tuning scores ~0 on task 0 (its
    classes are never predicted again); a 100-example reservoir keeps it above 80%."""
    import json

    acc = {}
    for model in ("cl_finetune", "cl_replay"):
        result = json.loads((train_tiny(model, "train.epochs=3") / "eval.json").read_text())
        acc[model] = result["test/acc_task0"]
        R = torch.tensor(result["accuracy_matrix"])
        assert R[0, 0] > 0.9, f"{model} did not learn task 0: {R[0, 0]}"
    assert acc["cl_finetune"] < 0.2 and acc["cl_replay"] > 0.8, acc
    assert acc["cl_replay"] - acc["cl_finetune"] > 0.6, acc


# -- bad input -----------------------------------------------------------------------------------------


def test_unknown_strategy_lists_the_valid_ones() -> None:
    from dlzoo.registry import RegistryError, get_spec

    with pytest.raises(RegistryError, match="unknown model 'cl_gdumbb'; valid: .*cl_agem, cl_ewc, cl_finetune"):
        get_spec("cl_gdumbb")


def test_replay_budget_larger_than_the_data_is_refused(train_tiny) -> None:
    with pytest.raises(ValueError, match=r"task.buffer_size=100000 is larger than the stream's \d+ training examples"):
        train_tiny("cl_replay", "task.buffer_size=100000")


def test_bad_stream_in_the_config(train_tiny) -> None:
    with pytest.raises(DataError, match="tasks 0 and 1 overlap"):
        train_tiny("cl_finetune", "task.classes=[[0,1],[1,2]]")
    from dlzoo.config import ConfigError, resolve_config

    with pytest.raises((ConfigError, ValueError), match="reads task.classes, not task.seeds"):
        resolve_config("cl_finetune", preset="tiny", overrides=["task.seeds=[1,2]"])


def test_predict_with_task_ids_and_an_unseen_one(train_tiny) -> None:
    from fastapi.testclient import TestClient

    from dlzoo.runs import load_run
    from dlzoo.serve import create_app

    path = train_tiny("cl_replay", "train.epochs=3")
    loaded = load_run(path)
    x = load_dataset("digits_images").test
    with TestClient(create_app(path.parent.parent)) as client:
        r = client.post("/v1/models/cl_replay/predict", json={"inputs": x.x[:20].tolist()})
        assert r.status_code == 200, r.text
        body = r.json()
        with torch.no_grad():
            assert body["labels"] == loaded.model(x.x[:20]).argmax(-1).tolist()  # class-IL split: unit u = class u
        r = client.post("/v1/models/cl_replay/predict", json={"inputs": x.x[:20].tolist(), "task_id": 1})
        assert r.status_code == 200 and set(r.json()["labels"]) <= {2, 3} and r.json()["units"] == [2, 3]
        r = client.post("/v1/models/cl_replay/predict", json={"inputs": x.x[:2].tolist(), "task_id": 5})
        assert r.status_code == 422 and "task_id 5 was never seen" in r.json()["detail"], r.text
        r = client.post("/v1/models/cl_replay/predict", json={"inputs": x.x[:2].tolist(), "task_id": -1})
        assert r.status_code == 422


def test_a_finished_run_reevaluates_to_its_eval_json(train_tiny) -> None:
    """``dlzoo eval``: config.yaml + model.safetensors give the same per-task accuracies (the whole stream seen)."""
    import json

    from dlzoo.evaluate import evaluate_run

    path = train_tiny("cl_replay", "train.epochs=3")
    saved = json.loads((path / "eval.json").read_text())
    again = evaluate_run(path)
    keys = [k for k in saved if k.startswith("test/acc")]
    assert len(keys) == 6 and {k: again[k] for k in keys} == {k: saved[k] for k in keys}
    assert again["stream"] == saved["stream"] and "accuracy_matrix" not in again  # R is the training run's
