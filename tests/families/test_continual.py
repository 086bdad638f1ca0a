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
    til = make_stream(digits, protocol="split", scenario="task", classes=classes).heads(2).mask(task_ids)
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
