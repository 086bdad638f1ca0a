"""Continual-learning metrics from the accuracy matrix.

``R[i, j]`` is the accuracy on (the test set of) task j after training on tasks 0..i, for a stream of
T tasks; ``b[j]`` the accuracy on task j of the model at its random initialization. Lopez-Paz &
Ranzato (2017, "Gradient Episodic Memory", sec. 4) define

    ACC = 1/T sum_j R[T-1, j]                              average accuracy after the last task
    BWT = 1/(T-1) sum_{j<T-1} (R[T-1, j] - R[j, j])        backward transfer (< 0: forgetting)
    FWT = 1/(T-1) sum_{j>0} (R[j-1, j] - b[j])             forward transfer (zero-shot gain on a task
                                                           not yet trained, over random init)

and Chaudhry et al. (2018, "Riemannian Walk", eq. 3) the average forgetting

    f_j = max_{l < T-1} R[l, j] - R[T-1, j],   F = 1/(T-1) sum_{j<T-1} f_j

A matrix of the first i+1 rows only (mid-stream) is scored as the stream of its first i+1 tasks:
pass ``R[:i+1, :i+1]``. BWT, FWT and forgetting need two tasks or more.
"""

from __future__ import annotations

import torch


def _square(R: torch.Tensor) -> int:
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] < 1:
        raise ValueError(f"the accuracy matrix must be square (T, T) with T >= 1, got {tuple(R.shape)}")
    if not torch.isfinite(R).all():
        raise ValueError("the accuracy matrix has missing (non-finite) entries: score only its completed rows")
    return R.shape[0]


def average_accuracy(R: torch.Tensor) -> float:
    """ACC: the mean of the last row."""
    T = _square(R)
    return float(R[T - 1].mean())


def backward_transfer(R: torch.Tensor) -> float:
    """BWT: mean change of a task's accuracy from just after it was learned to the end of the stream."""
    T = _square(R)
    if T < 2:
        raise ValueError("backward transfer needs at least two tasks")
    j = torch.arange(T - 1)
    return float((R[T - 1, j] - R[j, j]).mean())


def forward_transfer(R: torch.Tensor, b: torch.Tensor) -> float:
    """FWT: mean accuracy on a task just before it is trained, over the random-init accuracy b."""
    T = _square(R)
    if T < 2:
        raise ValueError("forward transfer needs at least two tasks")
    if b.shape != (T,):
        raise ValueError(f"b must hold one random-init accuracy per task, shape ({T},), got {tuple(b.shape)}")
    j = torch.arange(1, T)
    return float((R[j - 1, j] - b[j]).mean())


def forgetting(R: torch.Tensor) -> float:
    """Average forgetting: best accuracy a task ever had (before the last task) minus its final one."""
    T = _square(R)
    if T < 2:
        raise ValueError("forgetting needs at least two tasks")
    best = R[: T - 1, : T - 1].max(dim=0).values  # (T-1,) max over l < T-1, for j < T-1
    return float((best - R[T - 1, : T - 1]).mean())


def stream_metrics(R: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    """``acc`` and, with two tasks or more, ``bwt``, ``fwt``, ``forgetting`` of a completed (T, T) matrix."""
    out = {"acc": average_accuracy(R)}
    if R.shape[0] >= 2:
        out.update(bwt=backward_transfer(R), fwt=forward_transfer(R, b), forgetting=forgetting(R))
    return out
